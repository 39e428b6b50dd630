package main

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// User is a demo account. A real application has sessions or JWTs; here
// the user name in a cookie (or ?user=) is the whole identity.
type User struct {
	Name string `json:"name"`
	// Role is "customer" (sees their own tickets) or "support" (sees all).
	Role string `json:"role"`
}

// Ticket is a support ticket.
type Ticket struct {
	ID        int64     `json:"id"`
	Title     string    `json:"title"`
	Owner     string    `json:"owner"`
	Status    string    `json:"status"`
	UpdatedAt time.Time `json:"updated_at"`
}

// statuses are the states a ticket can be in, in workflow order.
var statuses = []string{"open", "in_progress", "waiting", "resolved", "closed"}

var (
	errNoTicket  = errors.New("no such ticket")
	errBadStatus = errors.New("unknown status")
)

// Store holds the demo users and tickets in memory. Safe for concurrent
// use.
type Store struct {
	users map[string]User // fixed after NewStore

	mu      sync.Mutex
	tickets map[int64]Ticket
}

// NewStore returns the demo data: two customers, one support agent, and
// tickets owned by the customers.
func NewStore() *Store {
	s := &Store{
		users: map[string]User{
			"alice": {Name: "alice", Role: "customer"},
			"bob":   {Name: "bob", Role: "customer"},
			"sam":   {Name: "sam", Role: "support"},
		},
		tickets: make(map[int64]Ticket),
	}
	now := time.Now().UTC()
	for i, t := range []Ticket{
		{Title: "Login page times out", Owner: "alice"},
		{Title: "Invoice PDF is blank", Owner: "bob"},
		{Title: "CSV export misses the VAT column", Owner: "alice"},
		{Title: "Password reset mail never arrives", Owner: "bob"},
	} {
		t.ID, t.Status, t.UpdatedAt = int64(i+1), "open", now
		s.tickets[t.ID] = t
	}
	return s
}

// User returns the user called name.
func (s *Store) User(name string) (User, bool) {
	u, ok := s.users[name]
	return u, ok
}

// Users returns every demo user, by name.
func (s *Store) Users() []User {
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// CanSee says whether u may see ticket t: its owner and support can.
func CanSee(u User, t Ticket) bool { return u.Role == "support" || t.Owner == u.Name }

// Ticket returns ticket id.
func (s *Store) Ticket(id int64) (Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		return Ticket{}, errNoTicket
	}
	return t, nil
}

// TicketsFor returns the tickets u may see, by id.
func (s *Store) TicketsFor(u User) []Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Ticket{}
	for _, t := range s.tickets {
		if CanSee(u, t) {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b Ticket) int { return int(a.ID - b.ID) })
	return out
}

// SetStatus changes the status of ticket id.
func (s *Store) SetStatus(id int64, status string) (Ticket, error) {
	if !slices.Contains(statuses, status) {
		return Ticket{}, errBadStatus
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		return Ticket{}, errNoTicket
	}
	t.Status, t.UpdatedAt = status, time.Now().UTC()
	s.tickets[id] = t
	return t, nil
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, errNoTicket
	}
	return id, nil
}
