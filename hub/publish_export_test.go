package hub

import "time"

// SetPublishReadTimeout shortens the time a publish body may take to
// arrive, so that a test sees the 408 without waiting 30 s. Call it before
// the hub serves.
func (h *Hub) SetPublishReadTimeout(d time.Duration) { h.publishReadTimeout = d }
