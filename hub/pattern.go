package hub

import (
	"fmt"
	"strings"

	"github.com/ssevents/ssevents/sse"
)

// MatchTopic reports whether topic matches pattern: an exact topic name,
// or a glob where * matches any run of characters, colons included
// ("workspace:42:*" matches "workspace:42:a:b"; "*" matches every topic).
// It is how the hub reads the patterns of tokens and of PublicTopics.
func MatchTopic(pattern, topic string) bool { return matchPattern(pattern, topic) }

// matchAny reports whether topic matches one of patterns.
func matchAny(patterns []string, topic string) bool {
	for _, p := range patterns {
		if matchPattern(p, topic) {
			return true
		}
	}
	return false
}

// matchPattern reports whether topic matches the glob p, where * matches
// any run of characters (colons included) and every other character
// matches itself. It runs in O(len(p)*len(topic)) at worst, with no
// recursion, so a hostile pattern in a token cannot make it slow.
func matchPattern(p, topic string) bool {
	if !strings.Contains(p, "*") {
		return p == topic
	}
	var pi, ti int
	star, mark := -1, 0 // last * seen in p, and where in topic it started matching
	for ti < len(topic) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ti
			pi++
		case pi < len(p) && p[pi] == topic[ti]:
			pi++
			ti++
		case star >= 0:
			mark++
			pi, ti = star+1, mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// validatePattern checks that p is a topic name in which * may stand for
// any run of characters.
func validatePattern(p string) error {
	if p == "*" {
		return nil
	}
	if err := sse.ValidateTopic(strings.ReplaceAll(p, "*", "x")); err != nil {
		return fmt.Errorf("topic pattern %q: %w", p, err)
	}
	return nil
}
