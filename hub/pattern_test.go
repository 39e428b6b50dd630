package hub_test

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ssevents/ssevents/hub"
)

func TestMatchTopic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, topic string
		want           bool
	}{
		{"a", "a", true},
		{"a", "ab", false},
		{"a", "", false},
		{"*", "anything:at:all", true},
		{"workspace:42:*", "workspace:42:comments", true},
		{"workspace:42:*", "workspace:42:a:b", true},
		{"workspace:42:*", "workspace:42:", true},
		{"workspace:42:*", "workspace:42", false},
		{"workspace:42:*", "workspace:420:x", false},
		{"*:comments", "workspace:1:comments", true},
		{"*:comments", "workspace:1:comment", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "acb", false},
		{"a**", "a", true},
		{"user:*", "User:1", false},
		{"a.b", "aXb", false}, // no regexp meaning
	}
	for _, tt := range tests {
		if got := hub.MatchTopic(tt.pattern, tt.topic); got != tt.want {
			t.Errorf("MatchTopic(%q, %q) = %v, want %v", tt.pattern, tt.topic, got, tt.want)
		}
	}
}

// FuzzMatchTopic checks MatchTopic against a regular expression built from
// the pattern.
func FuzzMatchTopic(f *testing.F) {
	for _, s := range [][2]string{{"a*", "abc"}, {"*:x:*", "a:x:b"}, {"**a", "ba"}, {"a*a*a", "aaaa"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, topic string) {
		if len(pattern) > 64 || len(topic) > 64 || !utf8.ValidString(pattern) || !utf8.ValidString(topic) {
			return // the regexp oracle needs UTF-8; topics are ASCII anyway
		}
		parts := strings.Split(pattern, "*")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		re := regexp.MustCompile(`^(?s:` + strings.Join(parts, ".*") + `)$`)
		if got, want := hub.MatchTopic(pattern, topic), re.MatchString(topic); got != want {
			t.Fatalf("MatchTopic(%q, %q) = %v, regexp says %v", pattern, topic, got, want)
		}
	})
}
