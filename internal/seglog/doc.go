// Package seglog is the embedded broker's durable history: an append-only
// log of checksummed records in numbered segment files in one directory,
// with group commit, and the directory's dataset identity and lock.
//
// A record is an event as published (id, time, topics, name, data, and the
// hash of its idempotency key), or an idempotency record alone. Records
// are appended to the newest segment; a segment is complete when it is
// full, and a complete segment is dropped whole once its owner (the
// broker, which keeps the history in memory) no longer holds any of its
// records (Segment.Ref counts them); the owner copies the few it still
// holds forward first when the log is over its bound. The log never
// rewrites a record in place.
//
// Each record carries two CRC-32C checksums: one of its header (id,
// time, topics) and one of the whole record. On Open, a torn record at
// the end of the newest segment (a crash in the middle of a write) is cut
// off; damage elsewhere is skipped, and reported: by topic when the
// header is intact, as a range of ids otherwise (Recovery).
//
// Writes reach the operating system (write(2)) in Write, before the caller
// delivers the event to anyone, so that a crash of the process never
// loses an event a client has seen; Sync makes them durable, one fsync
// for all the records written since the last (group commit).
package seglog
