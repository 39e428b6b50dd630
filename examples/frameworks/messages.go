package main

import (
	_ "embed"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

//go:embed index.html
var indexHTML []byte

// eventMessage is published on "room:<room>" for every message.
const eventMessage = "message_posted"

// Message is a chat message: the answer of POST /rooms/{room}/messages and
// the data of its message_posted event.
type Message struct {
	Room   string    `json:"room"`
	Author string    `json:"author"`
	Text   string    `json:"text"`
	SentAt time.Time `json:"sent_at"`
}

// MessageInput is the body of POST /rooms/{room}/messages.
type MessageInput struct {
	Author string `json:"author"`
	Text   string `json:"text"`
}

var roomPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// newMessage validates a room and an input, whichever router decoded them.
func newMessage(room string, in MessageInput) (Message, error) {
	in.Author, in.Text = strings.TrimSpace(in.Author), strings.TrimSpace(in.Text)
	switch {
	case !roomPattern.MatchString(room):
		return Message{}, errors.New("room ids are 1 to 64 letters, digits, _ or -")
	case in.Author == "" || utf8.RuneCountInString(in.Author) > 50:
		return Message{}, errors.New("author must be 1 to 50 characters")
	case in.Text == "" || utf8.RuneCountInString(in.Text) > 1000:
		return Message{}, errors.New("text must be 1 to 1000 characters")
	}
	return Message{Room: room, Author: in.Author, Text: in.Text, SentAt: time.Now().UTC()}, nil
}

// roomTopic is the topic of a room's messages.
func roomTopic(room string) string { return ssevents.Topic("room", room) }

// appPaths are the endpoints the ssevents App serves itself; each router
// hands them to the App unchanged (the App is an http.Handler).
var appPaths = []string{"/events", "/health", "/health/live", "/health/ready", "/metrics", "/metrics/prometheus"}

// postMessage is a plain net/http handler for the routers that speak
// net/http (chi): the publish middleware around it publishes its answer.
func postMessage(w http.ResponseWriter, r *http.Request) {
	in, err := readMessageInput(w, r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, sse.ErrorBody{Error: err.Error()})
		return
	}
	msg, err := newMessage(r.PathValue("room"), in)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, sse.ErrorBody{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusCreated, msg)
}

// errNotJSON is the answer to a body that is not a message.
var errNotJSON = errors.New(`body must be JSON {"author": "...", "text": "..."}`)

// readMessageInput reads the body as JSON whatever its Content-Type (curl
// -d sends a form type, a bare client none), so the three routers answer
// the same request alike: chi, gin and echo all call it.
func readMessageInput(w http.ResponseWriter, r *http.Request) (MessageInput, error) {
	var in MessageInput
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<10)).Decode(&in); err != nil {
		return MessageInput{}, errNotJSON
	}
	return in, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
