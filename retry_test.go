package ssevents_test

import (
	"bufio"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
)

// retryLine matches the line every stream starts with.
var retryLine = regexp.MustCompile(`^retry: (\d+)\n\n$`)

// isRetryLine reports whether s is a stream's retry line, whatever its
// (jittered) value.
func isRetryLine(s string) bool { return retryLine.MatchString(s) }

// firstRetry opens a stream of srvURL and returns the value of its retry:
// line, in ms.
func firstRetry(t *testing.T, srvURL string) int {
	t.Helper()
	resp := get(t, srvURL+"/events?topic=a", nil)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the retry line: %v", err)
	}
	blank, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the line after retry: %v", err)
	}
	m := retryLine.FindStringSubmatch(line + blank)
	if m == nil {
		t.Fatalf("stream starts with %q, want a retry line", line+blank)
	}
	ms, _ := strconv.Atoi(m[1])
	return ms
}

// Each stream gets its own retry: within ±20% of Config.Retry, so that
// streams ended together do not all come back at the same moment.
func TestRetryIsJitteredPerStream(t *testing.T) {
	t.Parallel()
	bothModes(t, func(t *testing.T, cfg ssevents.Config) {
		for _, tc := range []struct {
			name   string
			retry  time.Duration
			lo, hi int // bounds of every stream's value, in ms
			spread bool
		}{
			{"default 3 s", 0, 2400, 3600, true},
			{"1 s", time.Second, 800, 1200, true},
			{"50 ms", 50 * time.Millisecond, 40, 60, true},
			{"4 ms: less than 1 ms of jitter", 4 * time.Millisecond, 4, 4, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := cfg
				c.Retry = tc.retry
				_, srv := newServer(t, c)
				const streams = 40
				seen := map[int]int{}
				below, above := 0, 0
				mid := (tc.lo + tc.hi) / 2
				for range streams {
					ms := firstRetry(t, srv.URL)
					if ms < tc.lo || ms > tc.hi {
						t.Fatalf("retry: %d, want %d to %d", ms, tc.lo, tc.hi)
					}
					seen[ms]++
					if ms < mid {
						below++
					} else if ms > mid {
						above++
					}
				}
				if !tc.spread {
					return
				}
				// All 40 equal, or all on one side of the configured
				// value, has a chance below 2^-39 with uniform jitter.
				if len(seen) < 2 || below == 0 || above == 0 {
					t.Fatalf("retry values %v of %d streams: want them spread on both sides of %d ms", seen, streams, mid)
				}
			})
		}
	})
}
