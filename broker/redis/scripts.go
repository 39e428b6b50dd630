package redis

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/internal/streamid"
)

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

// publishScript publishes one event on a single Redis node, atomically:
// it takes the next id from the counter KEYS[1] (so ids are ordered across
// every topic of the node, and an event published to several topics has
// one id), appends the event to each stream KEYS[2..] (trimmed by count and
// age, expiring when idle) and PUBLISHes it on each channel ARGV[8..].
//
// ARGV: 1 history size, 2 history age in ms, 3 event name, 4 data,
// 5 and 6 the message around the id, 7 the event's random multi-topic
// id when published to several topics ("" otherwise), 8.. channels.
var publishScript = rueidis.NewLuaScript(luaTrim + `
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local seq = 0
local last = redis.call('GET', KEYS[1])
if not last then
  -- Counter lost (flushed, evicted): start after every stream's newest id.
  last = '0-0'
  for i = 2, #KEYS do
    if redis.call('EXISTS', KEYS[i]) == 1 then
      local info = redis.call('XINFO', 'STREAM', KEYS[i])
      for j = 1, #info, 2 do
        if info[j] == 'last-generated-id' then
          local a, b = string.match(info[j+1], '^(%d+)-(%d+)$')
          local c, d = string.match(last, '^(%d+)-(%d+)$')
          if tonumber(a) > tonumber(c) or (tonumber(a) == tonumber(c) and tonumber(b) > tonumber(d)) then
            last = info[j+1]
          end
        end
      end
    end
  end
end
local lms, lseq = string.match(last, '^(%d+)-(%d+)$')
lms = tonumber(lms)
if lms >= ms then
  ms = lms
  seq = tonumber(lseq) + 1
end
local id = string.format('%.0f-%.0f', ms, seq)
redis.call('SET', KEYS[1], id)
for i = 2, #KEYS do
  noteExpired(KEYS[i])
  if ARGV[7] ~= '' then
    redis.call('XADD', KEYS[i], id, 'e', ARGV[3], 'd', ARGV[4], 'm', ARGV[7])
  else
    redis.call('XADD', KEYS[i], id, 'e', ARGV[3], 'd', ARGV[4])
  end
  trim(KEYS[i], ARGV[1], ms - tonumber(ARGV[2]), ARGV[2], id)
end
local msg = ARGV[5] .. id .. ARGV[6]
for i = 8, #ARGV do
  redis.call('PUBLISH', ARGV[i], msg)
end
return id
`)

// shardPublishScript publishes one event to one topic on a Redis Cluster:
// XADD to the stream KEYS[1] with the id ARGV[9] ("*" for a new one),
// trim and expire it, SPUBLISH on the channel ARGV[8] (same slot as the key).
// ARGV 1 to 7 are those of publishScript.
var shardPublishScript = rueidis.NewLuaScript(luaTrim + `
local id
noteExpired(KEYS[1])
if ARGV[7] ~= '' then
  id = redis.call('XADD', KEYS[1], ARGV[9], 'e', ARGV[3], 'd', ARGV[4], 'm', ARGV[7])
else
  id = redis.call('XADD', KEYS[1], ARGV[9], 'e', ARGV[3], 'd', ARGV[4])
end
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
trim(KEYS[1], ARGV[1], ms - tonumber(ARGV[2]), ARGV[2], id)
redis.call('SPUBLISH', ARGV[8], ARGV[5] .. id .. ARGV[6])
return id
`)

// nextIDScript returns the next id of the counter KEYS[1] and stores it:
// on a cluster, where no script sees every stream, it orders ids across
// shards.
var nextIDScript = rueidis.NewLuaScript(`
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local seq = 0
local last = redis.call('GET', KEYS[1])
if last then
  local lms, lseq = string.match(last, '^(%d+)-(%d+)$')
  if tonumber(lms) >= ms then
    ms = tonumber(lms)
    seq = tonumber(lseq) + 1
  end
end
local id = string.format('%.0f-%.0f', ms, seq)
redis.call('SET', KEYS[1], id)
return id
`)

// stateScript reads, atomically, what resume and replay need: the server
// time, the id counter (when ARGV[2] is "1", KEYS[1] is the counter) and,
// for each stream, its last generated id, the greatest id trimmed from it
// (recorded by trim; for a stream that expired, its last id) and its
// entries from ARGV[1] ("(<id>" exclusive, or "+" for none).
// Reply: {seconds, microseconds, counter, then per stream: last id,
// max deleted id, entries}; "" for what does not exist.
var stateScript = rueidis.NewLuaScript(`
local t = redis.call('TIME')
local out = {t[1], t[2]}
local first = 1
if ARGV[2] == '1' then
  out[3] = redis.call('GET', KEYS[1]) or ''
  first = 2
else
  out[3] = ''
end
for i = first, #KEYS do
  local lg, md, entries = '', '', {}
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local info = redis.call('XINFO', 'STREAM', KEYS[i])
    for j = 1, #info, 2 do
      if info[j] == 'last-generated-id' then lg = info[j+1] end
    end
    md = redis.call('HGET', KEYS[i] .. ':meta', 'trimmed') or ''
    if ARGV[1] ~= '+' then entries = redis.call('XRANGE', KEYS[i], ARGV[1], '+') end
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

// Our messages on a channel are JSON in the seed's envelope plus a marker,
// so fastapi-sse-events subscribers can read them too:
//
//	{"ssevents":1,"id":"<ms>-<seq>","event":"<name>","data":<data>}
//
// When the event went to several topics, "mid":"<random>" follows the
// marker: on a cluster the copies may get different ids, and subscribers
// of several of the topics keep one copy by it.
// A message without the marker is a seed envelope from another publisher.
const msgHead = `{"ssevents":1,"id":"`

// messageParts returns the message before and after the id; mid is the
// multi-topic id or "".
func messageParts(msg ssevents.Message, mid string) (head, tail string) {
	name, _ := json.Marshal(msg.Event) // a string always marshals
	head = msgHead
	if mid != "" {
		head = `{"ssevents":1,"mid":"` + mid + `","id":"`
	}
	var b strings.Builder
	b.Grow(len(name) + len(msg.Data) + 20)
	b.WriteString(`","event":`)
	b.Write(name)
	b.WriteString(`,"data":`)
	b.Write(msg.Data)
	b.WriteString(`}`)
	return head, b.String()
}

// envelope is a message read from a channel.
type envelope struct {
	SSEvents int             `json:"ssevents"`
	MID      string          `json:"mid"`
	ID       string          `json:"id"`
	Event    string          `json:"event"`
	Data     json.RawMessage `json:"data"`
}

// delivery is one event read from a channel or a stream.
type delivery struct {
	ev    ssevents.Event
	id    streamid.ID
	hasID bool   // false for a foreign (seed) envelope, which has no place in history
	mid   string // set when published to several topics: the copies share it
}

// sameEvent reports whether d and o are copies of one multi-topic event.
func (d delivery) sameEvent(o delivery) bool {
	return d.mid != "" && d.mid == o.mid
}

// decodeMessage reads a channel message: ours, or a seed envelope, which
// is delivered with no id (so a client keeps its last ssevents id). The
// caller sets the topic.
func decodeMessage(payload string, now time.Time) (delivery, error) {
	var env envelope
	if err := json.Unmarshal([]byte(payload), &env); err != nil {
		return delivery{}, err
	}
	if err := ssevents.ValidateEventName(env.Event); err != nil {
		return delivery{}, err
	}
	data := env.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	} else {
		var buf bytes.Buffer
		if err := json.Compact(&buf, data); err != nil {
			return delivery{}, err
		}
		data = buf.Bytes()
	}
	d := delivery{ev: ssevents.Event{Name: env.Event, Data: data}}
	if env.SSEvents != 1 {
		if env.Event == ssevents.EventResync || env.Event == ssevents.EventHeartbeat {
			return delivery{}, ssevents.ErrInvalidEvent
		}
		d.ev.Time = now
		return d, nil
	}
	id, err := streamid.Parse(env.ID)
	if err != nil {
		return delivery{}, err
	}
	d.ev.ID, d.id, d.hasID, d.mid = env.ID, id, true, env.MID
	d.ev.Time = time.UnixMilli(int64(id.Ms))
	return d, nil
}

// entryDelivery turns a stream entry into a delivery.
func entryDelivery(topic string, e rueidis.XRangeEntry) (delivery, bool) {
	id, err := streamid.Parse(e.ID)
	if err != nil {
		return delivery{}, false
	}
	return delivery{
		ev: ssevents.Event{ID: e.ID, Topic: topic, Name: e.FieldValues["e"],
			Data: json.RawMessage(e.FieldValues["d"]), Time: time.UnixMilli(int64(id.Ms))},
		id: id, hasID: true, mid: e.FieldValues["m"],
	}, true
}

// streamState is one stream's part of a stateScript reply.
type streamState struct {
	exists     bool
	last       streamid.ID // last generated id
	maxDeleted streamid.ID
	entries    []delivery
}

// state is a parsed stateScript reply.
type state struct {
	now     time.Time
	counter streamid.ID
	hasCtr  bool
	streams []streamState
}

func parseState(res rueidis.RedisResult, topics []string) (state, error) {
	arr, err := res.ToArray()
	if err != nil {
		return state{}, err
	}
	if len(arr) != 3+3*len(topics) {
		return state{}, errShortReply
	}
	var st state
	sec, _ := arr[0].ToString()
	usec, _ := arr[1].ToString()
	s, _ := strconv.ParseInt(sec, 10, 64)
	u, _ := strconv.ParseInt(usec, 10, 64)
	st.now = time.Unix(s, u*1000)
	if c, _ := arr[2].ToString(); c != "" {
		st.counter, _ = streamid.Parse(c)
		st.hasCtr = true
	}
	for i, topic := range topics {
		lg, _ := arr[3+3*i].ToString()
		md, _ := arr[4+3*i].ToString()
		ss := streamState{exists: lg != ""}
		ss.last, _ = streamid.Parse(lg)
		ss.maxDeleted, _ = streamid.Parse(md)
		entries, err := arr[5+3*i].AsXRange()
		if err != nil && !rueidis.IsRedisNil(err) {
			return state{}, err
		}
		for _, e := range entries {
			if d, ok := entryDelivery(topic, e); ok {
				ss.entries = append(ss.entries, d)
			}
		}
		st.streams = append(st.streams, ss)
	}
	return st, nil
}
