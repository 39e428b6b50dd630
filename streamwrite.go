package ssevents

import (
	"errors"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// write writes b, and flushes it, on the goroutine paths, telling a paced
// subscription when the client is behind: from the moment its socket takes
// no more (EAGAIN) where the stream writes to the socket itself, or for
// the whole write where it cannot know (a ResponseWriter, TLS).
func (s *stream) write(b []byte) error {
	if s.paced == nil {
		return s.writeThrough(b)
	}
	if s.raw != nil {
		return s.writeRaw(b)
	}
	s.paced.SetUnaccepted(max(len(b), 1))
	defer s.paced.SetUnaccepted(0)
	return s.writeThrough(b)
}

// writeThrough writes b with a blocking write, then flushes it.
func (s *stream) writeThrough(b []byte) error {
	_, err := s.out.Write(b)
	if err == nil && s.flusher != nil {
		err = s.flusher()
	}
	return err
}

// interruptSlow ends a blocked write of a stream whose queue overflowed
// because its client stopped reading: on the goroutine paths the writer
// would otherwise see it only after WriteTimeout. The write then fails,
// and the stream ends as slow.
func (s *stream) interruptSlow() {
	if f := s.interrupt.Load(); f != nil && errors.Is(s.paced.Err(), sse.ErrSlowConsumer) {
		_ = (*f)(time.Now())
	}
}
