package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/ssevents/ssevents"
)

//go:embed index.html
var indexHTML []byte

// Topic and event of the list: every added item is published as
// eventItemAdded on topicItems.
const (
	topicItems     = "items"
	eventItemAdded = "item_added"
)

// Item is one entry of the list.
type Item struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// store is the list, in memory.
type store struct {
	mu    sync.Mutex
	items []Item
}

func (s *store) list() []Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Item(nil), s.items...)
}

func (s *store) add(name string) Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := Item{ID: len(s.items) + 1, Name: name}
	s.items = append(s.items, it)
	return it
}

// newStore returns a list of two items.
func newStore() *store {
	s := &store{}
	s.add("milk")
	s.add("bread")
	return s
}

// newServer returns the example's handler, serving the list s (nil: a new
// one; instances that share a broker share a list, as they would a
// database), and the function that ends its streams and closes its broker.
func newServer(cfg ssevents.Config, s *store) (http.Handler, func() error, error) {
	app, err := ssevents.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	if s == nil {
		s = newStore()
	}
	app.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(indexHTML)
	})
	// The position of "items" goes out in SSE-Position, taken before the
	// handler reads the list: the list plus the events after the
	// position are every item, each once.
	app.Handle("GET /api/items", app.WithPosition(topicItems)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		ssevents.WriteJSON(w, http.StatusOK, s.list())
	})))
	// The 2xx JSON answer, the new item, is published as item_added.
	app.Handle("POST /api/items", app.PublishEvent(topicItems, eventItemAdded, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Name string `json:"name"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in); err != nil || strings.TrimSpace(in.Name) == "" {
			ssevents.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("want {\"name\": \"...\"}: %v", err)})
			return
		}
		ssevents.WriteJSON(w, http.StatusCreated, s.add(strings.TrimSpace(in.Name)))
	})))
	return app, app.Close, nil
}
