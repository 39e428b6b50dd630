package redis

import (
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/ssevents/ssevents/internal/streamid"
)

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
	counter streamid.ID // the newest id issued
	hasCtr  bool
	genesis streamid.ID // the first id the dataset issued
	hasGen  bool
	streams []streamState
}

func parseState(res rueidis.RedisResult, topics []string) (state, error) {
	arr, err := res.ToArray()
	if err != nil {
		return state{}, err
	}
	if len(arr) != 4+3*len(topics) {
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
	if g, _ := arr[3].ToString(); g != "" {
		st.genesis, _ = streamid.Parse(g)
		st.hasGen = true
	}
	for i, topic := range topics {
		lg, _ := arr[4+3*i].ToString()
		md, _ := arr[5+3*i].ToString()
		ss := streamState{exists: lg != ""}
		ss.last, _ = streamid.Parse(lg)
		ss.maxDeleted, _ = streamid.Parse(md)
		entries, err := arr[6+3*i].AsXRange()
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
