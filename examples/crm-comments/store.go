package main

import (
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Comment is one comment on a thread.
type Comment struct {
	ID        int64     `json:"id"`
	ThreadID  string    `json:"thread_id"`
	Author    string    `json:"author"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// errNotFound is returned for a comment id the store does not have.
var errNotFound = errors.New("comment not found")

// Store keeps comments in memory. It stands in for the application's
// database: the REST API stays the source of truth, SSE only says what
// changed. Safe for concurrent use.
type Store struct {
	mu       sync.Mutex
	next     int64
	comments map[int64]Comment
}

// NewStore returns an empty store.
func NewStore() *Store { return &Store{comments: make(map[int64]Comment)} }

// Create adds a comment and returns it with its id and times set.
func (s *Store) Create(thread, author, text string) Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	now := time.Now().UTC()
	c := Comment{ID: s.next, ThreadID: thread, Author: author, Text: text, CreatedAt: now, UpdatedAt: now}
	s.comments[c.ID] = c
	return c
}

// Get returns the comment with id.
func (s *Store) Get(id int64) (Comment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.comments[id]
	if !ok {
		return Comment{}, errNotFound
	}
	return c, nil
}

// List returns the comments of thread, oldest first.
func (s *Store) List(thread string) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Comment{}
	for _, c := range s.comments {
		if c.ThreadID == thread {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Comment) int { return int(a.ID - b.ID) })
	return out
}

// Update replaces the text of comment id.
func (s *Store) Update(id int64, text string) (Comment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.comments[id]
	if !ok {
		return Comment{}, errNotFound
	}
	c.Text, c.UpdatedAt = text, time.Now().UTC()
	s.comments[id] = c
	return c, nil
}

// Delete removes comment id and returns what it was.
func (s *Store) Delete(id int64) (Comment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.comments[id]
	if !ok {
		return Comment{}, errNotFound
	}
	delete(s.comments, id)
	return c, nil
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, errNotFound
	}
	return id, nil
}
