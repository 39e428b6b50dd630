package redis

import (
	"strings"
	"sync"
	"unicode/utf8"
)

// maxMalformedChannels bounds the channels whose first malformed envelope
// is logged (and so the memory that remembers them): a publisher that
// sends garbage to every topic is announced by its first hundred
// channels, and counted for all of them.
const maxMalformedChannels = 100

// excerptBytes is how much of a malformed message a log line quotes: enough
// to recognise the publisher's format, short enough for one log line.
const excerptBytes = 80

// malformedLog remembers the channels whose first malformed envelope was
// logged. Safe for concurrent use.
type malformedLog struct {
	mu     sync.Mutex
	logged map[string]struct{}
	full   bool // maxMalformedChannels reached, and said so
}

// malformed counts a message on channel that is not an envelope we can
// deliver (sse.EnvelopeObserver, sse_envelopes_malformed_total) and logs
// the first one per channel at Warn with a short excerpt and the reason;
// later ones on that channel are only counted, so a misbehaving publisher
// cannot flood the log. It is not a broker error: Redis is fine.
func (b *Broker) malformed(channel, payload string, err error) {
	if o := b.envObserver; o != nil {
		o.EnvelopeMalformed()
	}
	l := &b.malformedLog
	l.mu.Lock()
	_, seen := l.logged[channel]
	announceFull := false
	if !seen && !l.full {
		if len(l.logged) == maxMalformedChannels {
			l.full, announceFull = true, true
		} else {
			if l.logged == nil {
				l.logged = make(map[string]struct{})
			}
			l.logged[channel] = struct{}{}
		}
	}
	log := !seen && !l.full
	l.mu.Unlock()
	switch {
	case log:
		b.log.Warn("dropped a malformed envelope; later ones on this channel are only counted in sse_envelopes_malformed_total",
			"channel", channel, "reason", err.Error(), "excerpt", excerpt(payload))
	case announceFull:
		b.log.Warn("dropped a malformed envelope; malformed envelopes were logged for enough channels, later ones are only counted in sse_envelopes_malformed_total",
			"channel", channel, "reason", err.Error(), "excerpt", excerpt(payload))
	}
}

// excerpt returns the start of payload, at most excerptBytes and valid
// UTF-8, with "…" when it was cut.
func excerpt(payload string) string {
	if len(payload) <= excerptBytes {
		return strings.ToValidUTF8(payload, "?")
	}
	cut := excerptBytes
	for cut > 0 && !utf8.RuneStart(payload[cut]) {
		cut--
	}
	return strings.ToValidUTF8(payload[:cut], "?") + "…"
}
