package sse

import (
	"fmt"
	"strings"
)

// MatchTopic reports whether topic matches pattern: an exact topic name,
// or a glob where * matches any run of characters, colons included
// ("workspace:42:*" matches "workspace:42:a:b"; "*" matches every topic).
// It is how the hub reads the patterns of tokens and of PublicTopics, and
// how the server reads Config.Presence. It runs in
// O(len(pattern)*len(topic)) at worst, with no recursion, so a hostile
// pattern in a token cannot make it slow.
func MatchTopic(pattern, topic string) bool {
	p := pattern
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

// MatchAnyTopic reports whether topic matches one of patterns.
func MatchAnyTopic(patterns []string, topic string) bool {
	for _, p := range patterns {
		if MatchTopic(p, topic) {
			return true
		}
	}
	return false
}

// ValidatePattern checks that p is a topic name in which * may stand for
// any run of characters.
func ValidatePattern(p string) error {
	if p == "*" {
		return nil
	}
	if err := ValidateTopic(strings.ReplaceAll(p, "*", "x")); err != nil {
		return fmt.Errorf("topic pattern %q: %w", p, err)
	}
	return nil
}
