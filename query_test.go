package ssevents_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
)

// manyTopicsQuery returns a subscribe query naming n distinct topics,
// comma-separated in one topic= parameter: 100,000 of them are about
// 690 KB.
func manyTopicsQuery(n int) string {
	var b strings.Builder
	b.WriteString("topic=")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "t%d", i)
	}
	return b.String()
}

// topicRecorder is an Authorizer that records the topics it is asked
// about and denies them, so that a request the parser accepts answers
// 403 without opening a stream.
type topicRecorder struct {
	mu     sync.Mutex
	topics [][]string
}

func (rec *topicRecorder) authorize(r *http.Request, topics []string) error {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.topics = append(rec.topics, slices.Clone(topics))
	return ssevents.Forbidden(topics[0])
}

// serveQuery answers GET /events?query on a new app made from cfg, in
// process, and returns the response.
func serveQuery(t testing.TB, cfg ssevents.Config, query string) *http.Response {
	t.Helper()
	app, err := ssevents.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/events?"+query, nil))
	return rec.Result()
}

// TestSubscribeQueryBounds checks that a subscribe query is bounded before
// it is parsed: too long a query, or more distinct topics than the limit,
// is 400 with a JSON error that states the limit; repeats and blanks do not
// count against it; what is accepted reaches the authorizer de-duplicated.
func TestSubscribeQueryBounds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		maxTopics int
		query     string
		status    int
		want      string   // in the error
		topics    []string // asked of the authorizer, when accepted
	}{
		{"100,000 topics", 0, manyTopicsQuery(100_000), 400, "room for 32 topics per connection, the limit", nil},
		{"100,000 topics, limit 1000", 1000, manyTopicsQuery(100_000), 400, "room for 1000 topics per connection, the limit", nil},
		{"85,000 topics, limit 1000", 1000, manyTopicsQuery(85_000), 400, "more than 1000 topics requested, the limit is 1000 per connection", nil},
		{"one past the limit", 3, "topic=a,b&topic=c,d", 400, "more than 3 topics requested, the limit is 3", nil},
		{"one topic in too long a query", 0, "topic=a&pad=" + strings.Repeat("x", 40<<10), 400, "the query is 40972 bytes, the limit is 35680 bytes", nil},
		{"repeats and blanks do not count", 3, "topic=a,b,,a&topic=%20c,b&topic=a", 403, "", []string{"a", "b", "c"}},
		{"nine topics with a repeat", 10, "topic=a,b,c,d,e,f,g,h,i,a,i", 403, "", []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"}},
		{"escaped key and comma", 0, "to%70ic=a%2Cb&x=1", 403, "", []string{"a", "b"}},
		{"bad escape", 0, "topic=a%zz", 400, "not valid URL encoding", nil},
		{"invalid topic before the limit", 3, "topic=a,b*,c,d", 400, "invalid topic", nil},
		{"semicolon separator", 0, "topic=a;topic=b", 400, "no topic", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var rec topicRecorder
			resp := serveQuery(t, ssevents.Config{MaxTopicsPerConnection: tc.maxTopics, Authorize: rec.authorize}, tc.query)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if msg := errorBody(t, resp); !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not say %q", msg, tc.want)
			}
			if tc.topics == nil {
				if len(rec.topics) != 0 {
					t.Errorf("the authorizer was asked about %v; a bad request must be refused before", rec.topics)
				}
				return
			}
			if len(rec.topics) != 1 || !slices.Equal(rec.topics[0], tc.topics) {
				t.Errorf("the authorizer was asked about %v, want once %v", rec.topics, tc.topics)
			}
		})
	}
}

// TestSubscribeManyTopicsIsCheap checks that refusing a query of 100,000
// topics (or of 85,000, within the byte bound at a limit of 1000) costs
// far less memory than the query itself: the query is neither copied nor
// split past the limit. The time it takes is logged (see
// BenchmarkSubscribeTooManyTopics), not asserted. Not parallel: it reads
// the process's allocation counter.
func TestSubscribeManyTopicsIsCheap(t *testing.T) {
	for _, tc := range []struct {
		maxTopics, topics int
	}{{0, 100_000}, {1000, 100_000}, {1000, 85_000}} {
		app, err := ssevents.New(ssevents.Config{MaxTopicsPerConnection: tc.maxTopics})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { app.Close() })
		query := manyTopicsQuery(tc.topics)
		req := httptest.NewRequest(http.MethodGet, "/events?"+query, nil)
		const runs = 10
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		for range runs {
			rec := httptest.NewRecorder()
			app.ServeHTTP(rec, req)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", rec.Code)
			}
		}
		elapsed := time.Since(start) / runs
		runtime.ReadMemStats(&after)
		perRequest := (after.TotalAlloc - before.TotalAlloc) / runs
		t.Logf("max topics %d, %d topics (%d bytes of query): %v and %d bytes allocated per refusal",
			tc.maxTopics, tc.topics, len(query), elapsed, perRequest)
		if perRequest > uint64(len(query)/2) {
			t.Errorf("refusing %d topics allocates %d bytes, over half the %d-byte query: it was copied or split past the limit",
				tc.topics, perRequest, len(query))
		}
	}
}

// BenchmarkSubscribeTooManyTopics measures the refusal of one subscribe
// request with 100,000 distinct topics (about 690 KB of query) as a server
// sees it: reading the request (http.ReadRequest, which parses the URL)
// and answering it. The query is over the limit in bytes at the default
// 32 topics, and within it at a limit of 1000 with 85,000 topics, where
// the parser stops at the 1001st.
func BenchmarkSubscribeTooManyTopics(b *testing.B) {
	for _, tc := range []struct {
		maxTopics, topics int
	}{{0, 100_000}, {1000, 85_000}} {
		b.Run(fmt.Sprintf("max=%d/topics=%d", tc.maxTopics, tc.topics), func(b *testing.B) {
			app, err := ssevents.New(ssevents.Config{MaxTopicsPerConnection: tc.maxTopics})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { app.Close() })
			raw := "GET /events?" + manyTopicsQuery(tc.topics) + " HTTP/1.1\r\nHost: localhost\r\n\r\n"
			b.ReportAllocs()
			for b.Loop() {
				req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
				if err != nil {
					b.Fatal(err)
				}
				rec := httptest.NewRecorder()
				app.ServeHTTP(rec, req)
				if rec.Code != http.StatusBadRequest {
					b.Fatalf("status %d, want 400", rec.Code)
				}
			}
		})
	}
}
