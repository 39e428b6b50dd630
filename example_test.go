package ssevents_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

// The one-call app: an SSE endpoint, health and metrics, and your own
// routes, with the embedded broker.
func Example() {
	app, err := ssevents.New(ssevents.Config{})
	if err != nil {
		panic(err)
	}
	defer app.Close()
	// A REST endpoint whose JSON answer is published as an event.
	app.Handle("POST /tickets/{id}/status", app.PublishEvent("ticket:{id}", "ticket_status_changed",
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprintf(w, `{"id":%q,"status":"closed"}`, r.PathValue("id"))
		})))
	srv := httptest.NewServer(app)
	defer srv.Close()

	// A browser would do: new EventSource('/events?topic=ticket:42').
	resp, err := http.Get(srv.URL + "/events?topic=ticket:42")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewReader(resp.Body)
	_, _ = lines.ReadString('\n') // retry: 3000
	_, _ = lines.ReadString('\n') // blank line: the stream is open

	post, err := http.Post(srv.URL+"/tickets/42/status", "application/json", strings.NewReader(`{"status":"closed"}`))
	if err != nil {
		panic(err)
	}
	post.Body.Close()

	for range 3 {
		line, _ := lines.ReadString('\n')
		if !strings.HasPrefix(line, "id:") { // ids vary from run to run
			fmt.Print(line)
		}
	}
	// Output:
	// event: ticket_status_changed
	// data: {"id":"42","status":"closed"}
}

// Publishing by hand, to one topic or to several at once.
func ExamplePublisher_Publish() {
	app, _ := ssevents.New(ssevents.Config{})
	defer app.Close()
	ctx := context.Background()

	id, err := app.Publish(ctx, ssevents.UserTopic("42"), "notification", map[string]string{"text": "hello"})
	fmt.Println(id != "", err)

	_, err = app.PublishTopics(ctx, []string{"workspace:acme", "user:42"}, "comment_created", json.RawMessage(`{"id":7}`))
	fmt.Println(err)

	_, err = app.Publish(ctx, "bad topic", "x", 1)
	fmt.Println(err)
	// Output:
	// true <nil>
	// <nil>
	// ssevents: invalid topic: "bad topic" has the character ' '; allowed are letters, digits and _ - . : @ / = +
}

// An authorizer is asked once per request about all its topics; a denial
// is a 403 naming the topic.
func ExampleAuthorizer() {
	app, _ := ssevents.New(ssevents.Config{
		Authorize: func(r *http.Request, topics []string) error {
			if r.Header.Get("X-User") == "" {
				return fmt.Errorf("%w: log in first", sse.ErrUnauthorized) // 401
			}
			for _, t := range topics {
				if strings.HasPrefix(t, "admin:") {
					return ssevents.Forbidden(t) // 403 naming t
				}
			}
			return nil
		},
	})
	defer app.Close()
	srv := httptest.NewServer(app)
	defer srv.Close()

	for _, user := range []string{"", "42"} {
		req, _ := http.NewRequest("GET", srv.URL+"/events?topic=news,admin:audit", nil)
		req.Header.Set("X-User", user)
		resp, _ := http.DefaultClient.Do(req)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, strings.TrimSpace(string(body)))
	}
	// Output:
	// 401 {"error":"ssevents: unauthorized: log in first"}
	// 403 {"error":"ssevents: forbidden: not allowed to subscribe to topic \"admin:audit\""}
}

// A rule about one topic stays one line with AuthorizeEachTopic: false is a
// 403 naming the topic.
func ExampleAuthorizeEachTopic() {
	app, _ := ssevents.New(ssevents.Config{
		Authorize: ssevents.AuthorizeEachTopic(func(r *http.Request, topic string) (bool, error) {
			return topic == "user:"+r.Header.Get("X-User"), nil
		}),
	})
	defer app.Close()
	srv := httptest.NewServer(app)
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/events?topic=user:7", nil)
	req.Header.Set("X-User", "42")
	resp, _ := http.DefaultClient.Do(req)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, strings.TrimSpace(string(body)))
	// Output:
	// 403 {"error":"ssevents: forbidden: not allowed to subscribe to topic \"user:7\""}
}

// Configuration from SSE_* environment variables; a bad value names the
// variable and its range.
func ExampleConfigFromLookup() {
	env := map[string]string{"SSE_HEARTBEAT_SECONDS": "90"}
	_, err := ssevents.ConfigFromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	fmt.Println(err)
	// Output:
	// ssevents: invalid configuration: SSE_HEARTBEAT_SECONDS="90": want an integer from 5 to 60
}

func ExampleTopic() {
	fmt.Println(ssevents.Topic("invoice", "i001"))
	fmt.Println(ssevents.UserTopic("john"))
	fmt.Println(ssevents.Topic("workspace", "acme", "comments"))
	// Output:
	// invoice:i001
	// user:john
	// workspace:acme:comments
}

func ExampleSplitTopics() {
	fmt.Printf("%q\n", ssevents.SplitTopics(" comments, ,user:42,"))
	// Output:
	// ["comments" "user:42"]
}
