package redis

import "github.com/redis/rueidis"

// luaTrim is the Lua helper both publish scripts share: trim(key, max,
// minms, age, id) drops the entries past the count bound and those older
// than minms, exactly, and records in the hash "<key>:meta" the newest id
// dropped ("trimmed"; Redis does not count trimmed entries in
// max-deleted-entry-id) and the newest id added ("last"). The stream
// expires age after its last publish, the hash twice as late, so that
// resume knows how far back the history reaches even after the whole
// stream has expired.
const luaTrim = `
local function parseid(id)
  local a, b = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(a), tonumber(b)
end
local function idless(x, y)
  local a, b = parseid(x)
  local c, d = parseid(y)
  return a < c or (a == c and b < d)
end
-- noteExpired, called before an XADD, records a stream that expired as a
-- whole as trimmed up to its last id.
local function noteExpired(key)
  if redis.call('EXISTS', key) == 0 then
    local prev = redis.call('HGET', key .. ':meta', 'last')
    if prev then
      redis.call('HSET', key .. ':meta', 'trimmed', prev)
    end
  end
end
-- nowms returns the server's time in milliseconds.
local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- late reports whether a publish with the deadline dl (server ms, "0"
-- for none) arrives after it: its publisher was already told it failed,
-- so it must change nothing.
local function late(dl, now)
  return tonumber(dl) > 0 and now > tonumber(dl)
end
local function trim(key, maxlen, minms, age, id)
  local cut = nil
  local over = redis.call('XLEN', key) - tonumber(maxlen)
  if over > 0 then
    local r = redis.call('XRANGE', key, '-', '+', 'COUNT', over)
    cut = r[#r][1]
  end
  local old = redis.call('XREVRANGE', key, '(' .. string.format('%.0f', minms) .. '-0', '-', 'COUNT', 1)
  if #old > 0 and (cut == nil or idless(cut, old[1][1])) then
    cut = old[1][1]
  end
  if cut then
    local a, b = parseid(cut)
    redis.call('XTRIM', key, 'MINID', string.format('%.0f-%.0f', a, b + 1))
    redis.call('HSET', key .. ':meta', 'trimmed', cut)
  end
  redis.call('HSET', key .. ':meta', 'last', id)
  redis.call('PEXPIRE', key, age)
  redis.call('PEXPIRE', key .. ':meta', 2 * tonumber(age))
end
`

// luaIdem is the Lua helper of the scripts that check an idempotency key:
// idemPrev(key, fp) reads the record key of a publish whose request has
// the fingerprint fp (hex) and returns nil when there is none; the id it
// recorded when it is "<fp> <id>" (a retry of the same request); an error
// reply IDEMREUSED when it is "<other fp> <id>" (the key reused for
// another request), or IDEMINFLIGHT when it is "<fp>" alone (a cluster
// publish reserved the key and has not settled it: see reserveScript). A
// record of an older version, the id alone, is taken as a retry.
const luaIdem = `
local function idemPrev(key, fp)
  local prev = redis.call('GET', key)
  if not prev then return nil end
  local rfp, rid = string.match(prev, '^(%x+) (.+)$')
  if not rfp then
    if string.match(prev, '^%x+$') then
      return redis.error_reply('IDEMINFLIGHT a publish with this idempotency key is in flight')
    end
    return prev
  end
  if rfp ~= fp then
    return redis.error_reply('IDEMREUSED idempotency key used for another request')
  end
  return rid
end
`

// luaNextID is the Lua helper that takes the next id of the id record
// key (see publishScript) and stores it: nextid(key).
const luaNextID = `
local function nextid(key)
  local t = redis.call('TIME')
  local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local seq = 0
  local last = redis.call('HGET', key, 'last')
  if last then
    local lms, lseq = string.match(last, '^(%d+)-(%d+)$')
    if tonumber(lms) >= ms then
      ms = tonumber(lms)
      seq = tonumber(lseq) + 1
    end
  end
  local id = string.format('%.0f-%.0f', ms, seq)
  redis.call('HSET', key, 'last', id)
  if redis.call('HEXISTS', key, 'genesis') == 0 then
    redis.call('HSET', key, 'genesis', id)
  end
  return id
end
`

// publishScript publishes one event on a single Redis node, atomically:
// it takes the next id from the id record KEYS[1] (a hash: "last", the
// newest id issued, so ids are ordered across every topic of the node and
// an event published to several topics has one id; "genesis", the first id
// this dataset issued, so that an id from a dataset that no longer exists
// is told apart), appends the event to each stream KEYS[3..] (trimmed by
// count and age, expiring when idle) and PUBLISHes it on each channel
// ARGV[10..].
//
// It changes nothing and returns the error LATE when it runs after the
// deadline ARGV[8] (server ms; "0" for none): its publisher has answered
// an error by then. With ARGV[9], the fingerprint of the request (hex)
// of a publish with an idempotency key, KEYS[2] (the key's record)
// records it and the id for ARGV[2] ms; a publish that finds the record
// returns its id for the same fingerprint, the error IDEMREUSED for
// another (see luaIdem), and publishes nothing.
//
// ARGV: 1 history size, 2 history age in ms, 3 event name, 4 data,
// 5 and 6 the message around the id, 7 the event's random multi-topic
// id when published to several topics ("" otherwise), 8 deadline,
// 9 fingerprint ("" without an idempotency key), 10.. channels.
var publishScript = rueidis.NewLuaScript(luaTrim + luaIdem + `
local ms = nowms()
if late(ARGV[8], ms) then
  return redis.error_reply('LATE publish ran after its deadline')
end
if ARGV[9] ~= '' then
  local prev = idemPrev(KEYS[2], ARGV[9])
  if prev then return prev end
end
local seq = 0
local last = redis.call('HGET', KEYS[1], 'last')
if not last then
  -- Id record lost (flushed, evicted): start after every stream's newest id.
  last = '0-0'
  for i = 3, #KEYS do
    if redis.call('EXISTS', KEYS[i]) == 1 then
      local info = redis.call('XINFO', 'STREAM', KEYS[i])
      for j = 1, #info, 2 do
        if info[j] == 'last-generated-id' and idless(last, info[j+1]) then
          last = info[j+1]
        end
      end
    end
  end
end
local lms, lseq = parseid(last)
if lms >= ms then
  ms = lms
  seq = lseq + 1
end
local id = string.format('%.0f-%.0f', ms, seq)
redis.call('HSET', KEYS[1], 'last', id)
if redis.call('HEXISTS', KEYS[1], 'genesis') == 0 then
  redis.call('HSET', KEYS[1], 'genesis', id) -- a new dataset starts here
end
for i = 3, #KEYS do
  noteExpired(KEYS[i])
  if ARGV[7] ~= '' then
    redis.call('XADD', KEYS[i], id, 'e', ARGV[3], 'd', ARGV[4], 'm', ARGV[7])
  else
    redis.call('XADD', KEYS[i], id, 'e', ARGV[3], 'd', ARGV[4])
  end
  trim(KEYS[i], ARGV[1], ms - tonumber(ARGV[2]), ARGV[2], id)
end
if ARGV[9] ~= '' then
  redis.call('SET', KEYS[2], ARGV[9] .. ' ' .. id, 'PX', ARGV[2])
end
local msg = ARGV[5] .. id .. ARGV[6]
for i = 10, #ARGV do
  redis.call('PUBLISH', ARGV[i], msg)
end
return id
`)

// shardPublishScript publishes one event to one topic on a Redis Cluster:
// XADD to the stream KEYS[1] with the id ARGV[9] ("*" for a new one),
// trim and expire it, SPUBLISH on the channel ARGV[8] (same slot as the
// key). ARGV 1 to 7 are those of publishScript; ARGV[10] is the deadline
// and ARGV[11] the fingerprint when KEYS[2] (same slot) records the
// idempotency key for this channel, as in publishScript: so that a retry
// of a publish that failed part way publishes only to the channels it
// missed.
var shardPublishScript = rueidis.NewLuaScript(luaTrim + luaIdem + `
local ms = nowms()
if late(ARGV[10], ms) then
  return redis.error_reply('LATE publish ran after its deadline')
end
if ARGV[11] ~= '' then
  local prev = idemPrev(KEYS[2], ARGV[11])
  if prev then return prev end
end
local id
noteExpired(KEYS[1])
if ARGV[7] ~= '' then
  id = redis.call('XADD', KEYS[1], ARGV[9], 'e', ARGV[3], 'd', ARGV[4], 'm', ARGV[7])
else
  id = redis.call('XADD', KEYS[1], ARGV[9], 'e', ARGV[3], 'd', ARGV[4])
end
trim(KEYS[1], ARGV[1], ms - tonumber(ARGV[2]), ARGV[2], id)
if ARGV[11] ~= '' then
  redis.call('SET', KEYS[2], ARGV[11] .. ' ' .. id, 'PX', ARGV[2])
end
redis.call('SPUBLISH', ARGV[8], ARGV[5] .. id .. ARGV[6])
return id
`)

// nextIDScript returns the next id of the id record KEYS[1] (see
// publishScript) and stores it: on a cluster, where no script sees every
// stream, it orders ids across shards.
var nextIDScript = rueidis.NewLuaScript(luaNextID + `
return nextid(KEYS[1])
`)

// reserveScript starts a publish with an idempotency key on a cluster, in
// the id record's slot: KEYS[1] is the id record, KEYS[2] the key's
// record, ARGV[1] the request's fingerprint (hex), ARGV[2] how long a
// reservation holds in ms. For a key with no record, it records the
// fingerprint alone (in flight, for ARGV[2] ms) and returns {"new", the
// next id} (see nextIDScript); for the same request recorded, {"retry",
// its id}; otherwise the error of idemPrev (IDEMREUSED, IDEMINFLIGHT).
// settleScript ends the reservation. So a key is checked in one place for
// the whole publish, whichever slots its topics are in, and across
// instances.
var reserveScript = rueidis.NewLuaScript(luaIdem + luaNextID + `
local prev = idemPrev(KEYS[2], ARGV[1])
if prev then
  if type(prev) == 'table' then return prev end
  return {'retry', prev}
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return {'new', nextid(KEYS[1])}
`)

// settleScript ends a reservation of reserveScript, if KEYS[1] still
// holds it (the fingerprint ARGV[1] alone): with the id ARGV[2], it
// records "<fp> <id>" for ARGV[3] ms; with ARGV[2] "" (the publish
// failed), it drops the reservation, so that a retry may publish.
var settleScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'PX', ARGV[3])
end
return 1
`)

// ensureDatasetScript returns the genesis of the id record KEYS[1],
// starting a dataset (genesis and last at the server's time, after any
// last id) when the record has none: a subscriber learns the identity of
// the dataset it follows before anything is published.
var ensureDatasetScript = rueidis.NewLuaScript(`
local g = redis.call('HGET', KEYS[1], 'genesis')
if g then return g end
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = string.format('%.0f-0', ms)
local last = redis.call('HGET', KEYS[1], 'last')
if last then
  local lms, lseq = string.match(last, '^(%d+)-(%d+)$')
  if tonumber(lms) >= ms then
    id = string.format('%.0f-%.0f', tonumber(lms), tonumber(lseq) + 1)
  end
end
redis.call('HSET', KEYS[1], 'last', id, 'genesis', id)
return id
`)

// newDatasetScript starts a new dataset identity in the id record KEYS[1]
// when events this instance delivered are missing from Redis (a failover
// to a replica that lost writes): "genesis" and "last" move past ARGV[1],
// the newest id delivered, so that every id issued before is unknown and
// resuming from one yields a resync. Returns the new genesis.
var newDatasetScript = rueidis.NewLuaScript(`
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function later(a, b)
  local x, y = string.match(a, '^(%d+)-(%d+)$')
  local u, v = string.match(b, '^(%d+)-(%d+)$')
  x, y, u, v = tonumber(x), tonumber(y), tonumber(u), tonumber(v)
  if x > u or (x == u and y > v) then return a end
  return b
end
local top = ARGV[1]
local last = redis.call('HGET', KEYS[1], 'last')
if last then top = later(last, top) end
local tms, tseq = string.match(top, '^(%d+)-(%d+)$')
local id
if tonumber(tms) >= ms then
  id = string.format('%.0f-%.0f', tonumber(tms), tonumber(tseq) + 1)
else
  id = string.format('%.0f-0', ms)
end
redis.call('HSET', KEYS[1], 'last', id, 'genesis', id)
return id
`)

// stateScript reads, atomically, what resume and replay need: the server
// time, the id record (when ARGV[2] is "1", KEYS[1] is the id record: its
// "last" and "genesis") and, for each stream, its last generated id, the
// greatest id trimmed from it (recorded by trim; for a stream that
// expired, its last id) and its entries from ARGV[1] ("(<id>" exclusive,
// or "+" for none), or from ARGV[2+k] for the k-th stream when given (one
// call syncs topics that each start elsewhere).
// Reply: {seconds, microseconds, last, genesis, then per stream: last id,
// max deleted id, entries}; "" for what does not exist. It is read-only
// (EVALSHA_RO), so the client may send it again on a connection that broke
// under it, as after a restart of Redis.
var stateScript = rueidis.NewLuaScriptReadOnly(`
local t = redis.call('TIME')
local out = {t[1], t[2]}
local first = 1
if ARGV[2] == '1' then
  out[3] = redis.call('HGET', KEYS[1], 'last') or ''
  out[4] = redis.call('HGET', KEYS[1], 'genesis') or ''
  first = 2
else
  out[3] = ''
  out[4] = ''
end
for i = first, #KEYS do
  local lg, md, entries = '', '', {}
  local start = ARGV[2 + i - first + 1] or ARGV[1]
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local info = redis.call('XINFO', 'STREAM', KEYS[i])
    for j = 1, #info, 2 do
      if info[j] == 'last-generated-id' then lg = info[j+1] end
    end
    md = redis.call('HGET', KEYS[i] .. ':meta', 'trimmed') or ''
    if start ~= '+' then entries = redis.call('XRANGE', KEYS[i], start, '+') end
  else
    -- Expired as a whole: everything up to its last id is gone.
    md = redis.call('HGET', KEYS[i] .. ':meta', 'last') or ''
  end
  table.insert(out, lg)
  table.insert(out, md)
  table.insert(out, entries)
end
return out
`)
