package main

import "fmt"

// topicNames names the topics: prefix+"big" first (it holds the first big
// streams), then prefix+"t1" ...
func topicNames(prefix string, n int) []string {
	names := []string{prefix + "big"}
	for i := 1; i < n; i++ {
		names = append(names, fmt.Sprintf("%st%d", prefix, i))
	}
	return names
}

// plan lays out the streams: stream i is user i mod users; the first big
// streams are on topic 0 and the rest spread over the other topics in
// turn. The first stream of each topic is its watcher.
func plan(streams, users, topics, big int) []*stream {
	out := make([]*stream, streams)
	seen := make([]bool, topics)
	for i := range out {
		t := 0
		if i >= big {
			t = 1 + (i-big)%(topics-1)
		}
		out[i] = &stream{idx: i, topic: t, user: fmt.Sprintf("user-%d", i%users), watch: !seen[t]}
		seen[t] = true
	}
	return out
}

// counts is a topic's presence: distinct users and connections.
type counts struct {
	Users int `json:"users"`
	Conns int `json:"connections"`
}

// expected returns each topic's counts when the streams for which live
// is true are open.
func expected(ss []*stream, topics int, live func(i int) bool) []counts {
	out := make([]counts, topics)
	users := make([]map[string]bool, topics)
	for i, s := range ss {
		if !live(i) {
			continue
		}
		if users[s.topic] == nil {
			users[s.topic] = map[string]bool{}
		}
		out[s.topic].Conns++
		users[s.topic][s.user] = true
	}
	for t := range out {
		out[t].Users = len(users[t])
	}
	return out
}
