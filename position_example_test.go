package ssevents_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/ssevents/ssevents"
)

// A page rendered from a REST answer subscribes from the answer's
// SSE-Position: an event published between the answer and the stream
// still arrives.
func ExampleApp_WithPosition() {
	app, err := ssevents.New(ssevents.Config{})
	if err != nil {
		panic(err)
	}
	defer app.Close()
	app.Handle("GET /tickets/{id}", app.WithPosition("ticket:{id}")(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ssevents.WriteJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id"), "status": "open"})
		})))
	srv := httptest.NewServer(app)
	defer srv.Close()

	page, err := http.Get(srv.URL + "/tickets/42")
	if err != nil {
		panic(err)
	}
	page.Body.Close()
	since := page.Header.Get(ssevents.PositionHeader)

	// Published after the page's data was read, before it subscribes.
	if _, err := app.Publish(context.Background(), "ticket:42", "ticket_status_changed", map[string]string{"status": "closed"}); err != nil {
		panic(err)
	}

	// A browser would do: new EventSource('/events?topic=ticket:42&lastEventId=' + since).
	resp, err := http.Get(srv.URL + "/events?topic=ticket:42&lastEventId=" + url.QueryEscape(since))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewReader(resp.Body)
	_, _ = lines.ReadString('\n') // retry: 3000
	_, _ = lines.ReadString('\n') // blank line: the stream is open
	for range 3 {
		line, _ := lines.ReadString('\n')
		if !strings.HasPrefix(line, "id:") { // ids vary from run to run
			fmt.Print(line)
		}
	}
	// Output:
	// event: ticket_status_changed
	// data: {"status":"closed"}
}
