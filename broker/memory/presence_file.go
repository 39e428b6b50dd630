package memory

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ssevents/ssevents/internal/seglog"
	"github.com/ssevents/ssevents/sse"
)

// PresenceFile is the name of the file, in the data directory, where a
// closed presence store leaves its members for the next one: each with
// the end of its grace period. The next store reads it (and removes it:
// after a crash, no stale members come back) and keeps them until then,
// so that users who reconnect within the grace after a restart neither
// leave nor join again; the others leave at their deadline, or when the
// store opens if it has passed.
const PresenceFile = "presence.json"

// presenceFileJSON is the presence file's content.
type presenceFileJSON struct {
	Version int           `json:"version"`
	Members []savedMember `json:"members"`
}

// savedMember is a member in the presence file.
type savedMember struct {
	Topic   string          `json:"topic"`
	User    string          `json:"user"`
	Info    json.RawMessage `json:"info,omitempty"`
	LeaveAt time.Time       `json:"leave_at"`
}

// members returns every member, the connected ones to leave at leaveAt,
// those in their grace period at its end. s.mu is held.
func (s *presenceStore) members(leaveAt time.Time) []savedMember {
	var out []savedMember
	for topic, t := range s.topics {
		for _, m := range t.list {
			at := m.leaveAt
			if m.conns > 0 {
				at = leaveAt
			}
			out = append(out, savedMember{Topic: topic, User: m.user, Info: m.info, LeaveAt: at})
		}
	}
	return out
}

// load reads the presence file back, at now: its members stay until the
// end of their grace (at most Grace from now); those whose end has passed
// leave now. A damaged file is logged and ignored: presence starts empty.
// It runs before the store is in use.
func (s *presenceStore) load(now time.Time) {
	members, err := readPresenceFile(s.file)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		s.opts.Logger.Warn("ssevents: presence file unreadable; presence starts empty", "file", s.file, "err", err)
		return
	}
	if err := os.Remove(s.file); err != nil {
		s.opts.Logger.Warn("ssevents: presence file not removed after reading it", "file", s.file, "err", err)
	}
	for _, sm := range members {
		t := s.topics[sm.Topic]
		if t == nil {
			t = &presTopic{members: make(map[string]*presMember)}
			s.topics[sm.Topic] = t
		}
		if t.members[sm.User] != nil {
			continue // twice in the file: the first counts
		}
		m := &presMember{user: sm.User, info: sm.Info}
		t.add(m)
		if !sm.LeaveAt.After(now) {
			t.remove(m)
			s.emit(sse.EventLeave, sm.Topic, m, now)
			s.forgetIfEmpty(sm.Topic, t)
			continue
		}
		deadline := sm.LeaveAt
		if limit := now.Add(s.opts.Grace); deadline.After(limit) {
			deadline = limit // this store's grace is shorter
		}
		s.startGrace(sm.Topic, m, deadline)
	}
	s.opts.Logger.Info("ssevents: presence read back from the data directory", "file", s.file, "members", len(members))
}

// readPresenceFile returns the members of the presence file at path.
func readPresenceFile(path string) ([]savedMember, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f presenceFileJSON
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("damaged: %w", err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("damaged: version %d, want 1", f.Version)
	}
	for _, m := range f.Members {
		if m.User == "" || m.LeaveAt.IsZero() {
			return nil, fmt.Errorf("damaged: a member of topic %q without a user or a deadline", m.Topic)
		}
	}
	return f.Members, nil
}

// writePresenceFile replaces the presence file at path with members,
// durably (see seglog.WriteFileDurably).
func writePresenceFile(path string, members []savedMember) error {
	b, err := json.Marshal(presenceFileJSON{Version: 1, Members: members})
	if err != nil {
		return err
	}
	return seglog.WriteFileDurably(path, append(b, '\n'))
}
