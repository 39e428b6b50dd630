package main

import (
	"bufio"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestSSEReader(t *testing.T) {
	t.Parallel()
	in := "\r\n: comment\nevent: join\ndata: {\"user\":\"u1\"}\n\n" +
		"data: a\r\ndata: b\r\nid: 7\r\n\r\n" +
		"data: {}\n\n" +
		"event: leave\ndata:x\n"
	r := &sseReader{r: bufio.NewReader(strings.NewReader(in))}
	var got []sseEvent
	for {
		ev, err := r.next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
		got = append(got, ev)
	}
	want := []sseEvent{{"join", `{"user":"u1"}`}, {"", "a\nb"}, {"", "{}"}}
	if !slices.Equal(got, want) {
		t.Errorf("events %q, want %q (an unterminated event is not one)", got, want)
	}
}

func TestChange(t *testing.T) {
	t.Parallel()
	cf, ours := &centrifugo{}, &ssevents{}
	tests := []struct {
		name       string
		tgt        target
		ev         sseEvent
		kind, user string
		ok         bool
	}{
		{"centrifugo join", cf, sseEvent{"", `{"channel":"pres:big","join":{"info":{"user":"user-3","client":"c1"}}}`}, "join", "user-3", true},
		{"centrifugo leave", cf, sseEvent{"", `{"channel":"pres:big","leave":{"info":{"user":"user-4","client":"c2"}}}`}, "leave", "user-4", true},
		{"centrifugo ping", cf, sseEvent{"", `{}`}, "", "", false},
		{"ssevents join", ours, sseEvent{"join", `{"topic":"pres:big","user":"user-5","info":null,"connections":1}`}, "join", "user-5", true},
		{"ssevents leave", ours, sseEvent{"leave", `{"topic":"pres:big","user":"user-6","connections":0}`}, "leave", "user-6", true},
		{"ssevents snapshot", ours, sseEvent{"presence", `{"topic":"pres:big","users":1}`}, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kind, user, ok := tt.tgt.change(tt.ev)
			if kind != tt.kind || user != tt.user || ok != tt.ok {
				t.Errorf("change = %q, %q, %v; want %q, %q, %v", kind, user, ok, tt.kind, tt.user, tt.ok)
			}
		})
	}
}

func TestCentrifugoConfirm(t *testing.T) {
	t.Parallel()
	check := (&centrifugo{}).confirm("pres:big")
	tests := []struct {
		data string
		ok   bool
	}{
		{`{"connect":{"client":"c1","version":"6.9.1","subs":{"pres:big":{}},"ping":25}}`, true},
		{`{"connect":{"client":"c1","subs":{"pres:t1":{}}}}`, false},
		{`{"error":{"code":109,"message":"token expired"}}`, false},
		{`{"disconnect":{"code":3501,"reason":"bad request"}}`, false},
		{`{}`, false},
	}
	for _, tt := range tests {
		if err := check(sseEvent{data: tt.data}); (err == nil) != tt.ok {
			t.Errorf("confirm(%s) = %v, want ok %v", tt.data, err, tt.ok)
		}
	}
}
