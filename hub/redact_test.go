package hub_test

import (
	"testing"

	"github.com/ssevents/ssevents/hub"
)

// TestRedactURL: a broker URL as logged keeps everything but a password.
func TestRedactURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"memory://", "memory://"},
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://:pw@127.0.0.1:6379/0", "redis://:xxxxx@127.0.0.1:6379/0"},
		{"rediss://ann:p@ss:w@h:6380/1", "rediss://ann:xxxxx@h:6380/1"},
		{"redis+cluster://u:pw@h1:7001,h2:7002", "redis+cluster://u:xxxxx@h1:7001,h2:7002"},
		{"redis://user@h:6379", "redis://user@h:6379"},
		{"not a url:secret@h", "…@h"},
	} {
		if got := hub.RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
