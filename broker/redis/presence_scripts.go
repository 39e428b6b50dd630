package redis

import (
	"context"
	"crypto/sha1" //nolint:gosec // Redis names scripts by their SHA-1; no secret is involved
	"encoding/hex"

	"github.com/redis/rueidis"
)

// pipelinedScript is a Lua script run in pipelines by its SHA-1 (EVALSHA),
// and by its text (EVAL) where a server does not know it yet. Unlike
// rueidis.Lua.ExecMulti, it does not load the script on every node before
// each pipeline: a sync or a reap pass costs one round trip.
type pipelinedScript struct{ src, sha string }

func newPipelinedScript(src string) *pipelinedScript {
	sum := sha1.Sum([]byte(src)) //nolint:gosec // see the import
	return &pipelinedScript{src: src, sha: hex.EncodeToString(sum[:])}
}

// execMulti runs the script once per exec, pipelined (per node on a
// cluster), and returns the replies in order.
func (p *pipelinedScript) execMulti(ctx context.Context, c rueidis.Client, execs []rueidis.LuaExec) []rueidis.RedisResult {
	cmds := make(rueidis.Commands, len(execs))
	for i, e := range execs {
		cmds[i] = c.B().Evalsha().Sha1(p.sha).Numkeys(int64(len(e.Keys))).Key(e.Keys...).Arg(e.Args...).Build()
	}
	res := c.DoMulti(ctx, cmds...)
	var retry []int
	var again rueidis.Commands
	for i, r := range res {
		if err, ok := rueidis.IsRedisErr(r.Error()); ok && err.IsNoScript() {
			e := execs[i]
			retry = append(retry, i)
			again = append(again, c.B().Eval().Script(p.src).Numkeys(int64(len(e.Keys))).Key(e.Keys...).Arg(e.Args...).Build())
		}
	}
	for j, r := range c.DoMulti(ctx, again...) {
		res[retry[j]] = r
	}
	return res
}

// The presence scripts work on one topic's keys (see presenceStore.keys),
// all in the topic's cluster slot:
//
//	KEYS[1] entries   hash  "<instance>|<user>" -> connections; -1 is a tombstone
//	KEYS[2] expiries  zset  entry -> expiry (server ms)
//	KEYS[3] members   hash  user -> "<live entries>,<connections>,<info>" (HLEN = Users)
//	KEYS[4] total     string: connections, anonymous ones included
//	KEYS[5] sequence  string: the number of the topic's last join or leave
//	KEYS[6] index     zset  topic -> when its first entry expires (single node only)
//	KEYS[7] events    stream of joins and leaves (single node only)
//
// A member's counts and info share one hash field, so that a member costs
// one field and a snapshot reads its list with HSCAN alone.
//
// On a single node (or Sentinel) a script also appends its joins and
// leaves to the events stream and keeps the index, atomically. On a
// cluster the index and the stream live in a slot of their own, so the
// script returns its joins and leaves and the caller appends them.
//
// A reaped entry stays as a tombstone (-1) for a while: an instance that
// re-asserts an entry it had announced (see presenceEntry.confirmed) finds
// either the tombstone (its entry was reaped and its leave announced: the
// re-assert is a real join) or nothing (Redis lost it in a restart or a
// failover: the re-assert is silent).
const luaPresence = `
local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- member returns a user's live entries, connections and info.
local function member(user)
  local v = redis.call('HGET', KEYS[3], user)
  if not v then return 0, 0, '' end
  local live, conns, info = string.match(v, '^(%-?%d+),(%-?%d+),(.*)$')
  return tonumber(live), tonumber(conns), info
end
-- setmember writes a user's record; a user without live entries has none.
local function setmember(user, live, conns, info)
  if live <= 0 then
    redis.call('HDEL', KEYS[3], user)
  else
    redis.call('HSET', KEYS[3], user, string.format('%d,%d,', live, math.max(conns, 0)) .. info)
  end
end
local out = {0, 0}
-- emit records a join or a leave, numbered in the topic's sequence: in the
-- stream on a single node, in the reply on a cluster.
local function emit(kind, topic, maxlen, user, info, conns, now)
  local seq = redis.call('INCR', KEYS[5])
  if KEYS[7] then
    redis.call('XADD', KEYS[7], 'MAXLEN', '~', maxlen, '*', 't', kind, 'topic', topic,
      'u', user, 'i', info, 'c', conns, 'ms', now, 's', seq)
  else
    table.insert(out, {kind, user, info, conns, now, seq})
  end
end
`

// presenceSetScript re-asserts entries of one topic. ARGV: topic, stream
// max length, key lifetime (ms), then per entry: entry, user, connections,
// lifetime (ms), info ("" keeps the user's) and confirmed ("1" when the
// instance announced the entry before, "2" when it never did and the entry
// had a stream since the last set). It returns {now, first expiry set,
// events...}; an event is {kind, user, info, connections, ms, sequence}.
var presenceSetScript = newPipelinedScript(luaPresence + `
local topic, maxlen, keyttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = nowms()
local first = nil
for i = 4, #ARGV, 6 do
  local entry, user, count, ttl = ARGV[i], ARGV[i+1], tonumber(ARGV[i+2]), tonumber(ARGV[i+3])
  local info, confirmed = ARGV[i+4], ARGV[i+5]
  local raw = redis.call('HGET', KEYS[1], entry)
  local old = nil
  if raw then old = tonumber(raw) end
  local write = true
  if old == nil or old < 0 then
    -- A missing entry is created when it has streams, when a stream came
    -- and went since the last set (confirmed '2'), or when Redis lost an
    -- announced one (it then leaves after its grace period); a reaped one
    -- that has none stays reaped.
    if count > 0 or confirmed == '2' or (old == nil and confirmed == '1') then
      redis.call('INCRBY', KEYS[4], count)
      if user ~= '' then
        local live, conns, cur = member(user)
        if info == '' then info = cur end
        setmember(user, live + 1, conns + count, info)
        if live == 0 and (old ~= nil or confirmed ~= '1') then
          emit('join', topic, maxlen, user, info, conns + count, now)
        end
      end
    else
      write = false
    end
  else
    redis.call('INCRBY', KEYS[4], count - old)
    if user ~= '' then
      local live, conns, cur = member(user)
      if info == '' then info = cur end
      setmember(user, math.max(live, 1), conns + count - old, info)
    end
  end
  if write then
    local exp = now + ttl
    redis.call('HSET', KEYS[1], entry, count)
    redis.call('ZADD', KEYS[2], exp, entry)
    if first == nil or exp < first then first = exp end
  end
end
for k = 1, 5 do redis.call('PEXPIRE', KEYS[k], keyttl) end
if first and KEYS[6] then redis.call('ZADD', KEYS[6], 'LT', first, topic) end
out[1], out[2] = now, first or 0
return out
`)

// presenceReapScript removes one topic's expired entries. ARGV: topic,
// stream max length, tombstone lifetime (ms), most entries to reap. It
// returns {now, the topic's first expiry (0: none), leaves...}.
var presenceReapScript = newPipelinedScript(luaPresence + `
local topic, maxlen, keep = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = nowms()
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
for _, entry in ipairs(due) do
  local c = tonumber(redis.call('HGET', KEYS[1], entry) or '-1')
  if c < 0 then
    redis.call('HDEL', KEYS[1], entry)
    redis.call('ZREM', KEYS[2], entry)
  else
    redis.call('HSET', KEYS[1], entry, -1)
    redis.call('ZADD', KEYS[2], now + keep, entry)
    redis.call('DECRBY', KEYS[4], c)
    local user = string.sub(entry, string.find(entry, '|', 1, true) + 1)
    if user ~= '' then
      local live, conns, info = member(user)
      setmember(user, live - 1, conns - c, info)
      if live <= 1 then
        emit('leave', topic, maxlen, user, info, 0, now)
      end
    end
  end
end
local nxt = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local first = 0
if #nxt > 0 then first = tonumber(nxt[2]) else redis.call('DEL', KEYS[4]) end
-- The sequence outlives its topic's last leave by a while, so that a
-- topic that empties and fills again keeps counting up.
redis.call('PEXPIRE', KEYS[5], 3 * keep)
if KEYS[6] then
  if first > 0 then redis.call('ZADD', KEYS[6], first, topic) else redis.call('ZREM', KEYS[6], topic) end
end
out[1], out[2] = now, first
return out
`)

// presenceSnapshotScript reads one topic's counts and up to ARGV[1] of its
// members: {users, connections, then user, connections, info per member}.
// HSCAN with a COUNT of what is still missing reads O(limit) fields, never
// the whole hash.
var presenceSnapshotScript = rueidis.NewLuaScriptReadOnly(`
local users = redis.call('HLEN', KEYS[3])
local total = tonumber(redis.call('GET', KEYS[4]) or '0')
local limit = tonumber(ARGV[1])
local out = {users, total}
local seen, n, cursor = {}, 0, '0'
if limit > 0 and users > 0 then
  repeat
    local r = redis.call('HSCAN', KEYS[3], cursor, 'COUNT', limit - n)
    cursor = r[1]
    for i = 1, #r[2], 2 do
      local u = r[2][i]
      if n < limit and not seen[u] then
        local _, conns, info = string.match(r[2][i + 1], '^(%-?%d+),(%-?%d+),(.*)$')
        seen[u] = true
        n = n + 1
        table.insert(out, u)
        table.insert(out, tonumber(conns or '0'))
        table.insert(out, info or '')
      end
    end
  until cursor == '0' or n >= limit
end
return out
`)
