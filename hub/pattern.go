package hub

import "github.com/ssevents/ssevents/sse"

// MatchTopic reports whether topic matches pattern: an exact topic name,
// or a glob where * matches any run of characters, colons included
// ("workspace:42:*" matches "workspace:42:a:b"; "*" matches every topic).
// It is how the hub reads the patterns of tokens and of PublicTopics (see
// sse.MatchTopic).
func MatchTopic(pattern, topic string) bool { return sse.MatchTopic(pattern, topic) }

// matchAny reports whether topic matches one of patterns.
func matchAny(patterns []string, topic string) bool { return sse.MatchAnyTopic(patterns, topic) }

// validatePattern checks that p is a topic name in which * may stand for
// any run of characters.
func validatePattern(p string) error { return sse.ValidatePattern(p) }
