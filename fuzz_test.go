package ssevents_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

// fuzzMaxTopics is the topic limit of FuzzSubscribeQuery's app: small, so
// that inputs reach it.
const fuzzMaxTopics = 4

// referenceTopics is what a subscribe query asks for, read the simple
// way: every topic= value url.ParseQuery finds, split on commas, trimmed,
// without blanks and repeats.
func referenceTopics(rawQuery string) []string {
	q, _ := url.ParseQuery(rawQuery) // pairs it cannot decode are skipped, as parseTopics skips them
	var topics []string
	for _, v := range q["topic"] {
		topics = append(topics, ssevents.SplitTopics(v)...)
	}
	return sse.UniqueTopics(topics)
}

// FuzzSubscribeQuery feeds arbitrary queries to the SSE endpoint (whose
// parser is parseTopics). It must never panic; it answers 400 with a JSON
// error, or asks the authorizer (which denies, 403) about topics that are
// valid, within the limit, without repeats, and exactly the ones the
// query names.
func FuzzSubscribeQuery(f *testing.F) {
	for _, seed := range []string{
		"topic=a", "topic=a,b", "topic=a&topic=b", "topic=a,%20b,,a", "topic=%2C,a%2Cb",
		"topic=a,b,c,d,e", "topic=a,a,a,a,a,b", "to%70ic=x", "topic=a%zz", "topic=a;topic=b",
		"topic=", "", "topic=a*", "topic=a+b", "topic=user:42&lastEventId=1-0", "topic=a&&&topic=b&x",
		"topic=" + string([]byte{0xff}), "%zz=1&topic=ok",
	} {
		f.Add(seed)
	}
	var asked [][]string
	app, err := ssevents.New(ssevents.Config{
		MaxTopicsPerConnection: fuzzMaxTopics,
		Authorize: func(r *http.Request, topics []string) error {
			asked = append(asked, slices.Clone(topics)) // fuzz calls are sequential in one process
			return ssevents.Forbidden(topics[0])
		},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { app.Close() })
	f.Fuzz(func(t *testing.T, rawQuery string) {
		asked = asked[:0]
		req := httptest.NewRequest(http.MethodGet, "/events", nil)
		req.URL.RawQuery = rawQuery
		w := httptest.NewRecorder()
		app.ServeHTTP(w, req)
		var body sse.ErrorBody
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error == "" {
			t.Fatalf("status %d, body %q: not a JSON error", w.Code, w.Body)
		}
		switch w.Code {
		case http.StatusBadRequest:
			if len(asked) != 0 {
				t.Fatalf("400 (%s), yet the authorizer was asked about %v", body.Error, asked)
			}
		case http.StatusForbidden:
			if len(asked) != 1 {
				t.Fatalf("403, the authorizer asked %d times", len(asked))
			}
			checkTopics(t, asked[0], referenceTopics(rawQuery))
		default:
			t.Fatalf("status %d (%s), want 400 or 403", w.Code, body.Error)
		}
	})
}

// checkTopics checks topics the parser accepted against the reference.
func checkTopics(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) == 0 || len(got) > fuzzMaxTopics {
		t.Fatalf("accepted %d topics, want 1 to %d", len(got), fuzzMaxTopics)
	}
	for i, topic := range got {
		if err := sse.ValidateTopic(topic); err != nil {
			t.Fatalf("accepted an invalid topic: %v", err)
		}
		if slices.Contains(got[:i], topic) {
			t.Fatalf("accepted %q twice: %v", topic, got)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("accepted %q, the query names %q", got, want)
	}
}
