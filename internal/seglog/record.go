package seglog

import (
	"encoding/binary"
	"errors"
	"hash/crc32"

	"github.com/ssevents/ssevents/internal/streamid"
)

// Record is one entry of the log: an event as published, or (no Topics)
// only the idempotency record of one.
type Record struct {
	// ID is the event's id.
	ID streamid.ID
	// Time is when the event was published, in Unix nanoseconds.
	Time int64
	// Topics are the topics the event is in the history of; none for an
	// idempotency record alone.
	Topics []string
	// Name is the event's name ("" for none).
	Name string
	// Data is the event's data. A recovered record's Data is valid only
	// during the callback it is given to.
	Data []byte
	// Idempotent says that Scope and Fingerprint hold the publish's
	// idempotency key's hash and its request's fingerprint.
	Idempotent bool
	// Scope is the hash of the idempotency key.
	Scope [32]byte
	// Fingerprint identifies the request the key was used for.
	Fingerprint [32]byte
}

// The frame of a record on disk:
//
//	magic u32 | payload length u32 | header length u32 | header crc u32 | crc u32 | payload
//
// The payload is the header then the data. The header crc covers the two
// lengths and the header, so that a record whose data is damaged still
// tells its id and topics; the crc covers the whole payload.
const (
	magic      = 0x31564553 // "SEV1" little-endian
	frameBytes = 20
	// MaxRecordBytes bounds a record's payload: larger lengths are
	// damage.
	MaxRecordBytes = 64 << 20
	flagIdem       = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// FrameBytes returns the size of rec on disk.
func FrameBytes(rec *Record) int {
	n := frameBytes + 8 + 8 + 8 + 1
	if rec.Idempotent {
		n += 64
	}
	n += binary.MaxVarintLen32
	for _, t := range rec.Topics {
		n += binary.MaxVarintLen32 + len(t)
	}
	return n + binary.MaxVarintLen32 + len(rec.Name) + len(rec.Data)
}

// appendRecord appends rec's frame to dst.
func appendRecord(dst []byte, rec *Record) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, frameBytes)...)
	h := len(dst)
	dst = binary.LittleEndian.AppendUint64(dst, rec.ID.Ms)
	dst = binary.LittleEndian.AppendUint64(dst, rec.ID.Seq)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(rec.Time))
	if rec.Idempotent {
		dst = append(dst, flagIdem)
		dst = append(dst, rec.Scope[:]...)
		dst = append(dst, rec.Fingerprint[:]...)
	} else {
		dst = append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(rec.Topics)))
	for _, t := range rec.Topics {
		dst = binary.AppendUvarint(dst, uint64(len(t)))
		dst = append(dst, t...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(rec.Name)))
	dst = append(dst, rec.Name...)
	hlen := len(dst) - h
	dst = append(dst, rec.Data...)
	f := dst[start:h]
	binary.LittleEndian.PutUint32(f[0:], magic)
	binary.LittleEndian.PutUint32(f[4:], uint32(len(dst)-h))
	binary.LittleEndian.PutUint32(f[8:], uint32(hlen))
	hc := crc32.Update(crc32.Checksum(f[4:12], castagnoli), castagnoli, dst[h:h+hlen])
	binary.LittleEndian.PutUint32(f[12:], hc)
	binary.LittleEndian.PutUint32(f[16:], crc32.Checksum(dst[h:], castagnoli))
	return dst
}

// frameState is what parseFrame found at a position.
type frameState int

const (
	frameOK        frameState = iota // a whole, valid record
	frameShort                       // the file ends inside the frame
	frameBadHeader                   // no valid frame starts here
	frameBadData                     // the header is valid, the data is damaged
)

var errHeader = errors.New("seglog: malformed record header")

// parseFrame parses the frame at the start of buf into rec (whose Data
// and Topics then alias buf) and returns what it found and the frame's
// length (for frameOK and frameBadData).
func parseFrame(buf []byte, rec *Record) (frameState, int) {
	if len(buf) < frameBytes {
		return frameShort, 0
	}
	if binary.LittleEndian.Uint32(buf) != magic {
		return frameBadHeader, 0
	}
	plen := int(binary.LittleEndian.Uint32(buf[4:]))
	hlen := int(binary.LittleEndian.Uint32(buf[8:]))
	if plen > MaxRecordBytes || hlen > plen || hlen < 25 {
		return frameBadHeader, 0
	}
	if len(buf) < frameBytes+hlen {
		return frameShort, 0
	}
	header := buf[frameBytes : frameBytes+hlen]
	hc := crc32.Update(crc32.Checksum(buf[4:12], castagnoli), castagnoli, header)
	if hc != binary.LittleEndian.Uint32(buf[12:]) {
		return frameBadHeader, 0
	}
	if err := parseHeader(header, rec); err != nil {
		return frameBadHeader, 0
	}
	if len(buf) < frameBytes+plen {
		return frameShort, 0
	}
	payload := buf[frameBytes : frameBytes+plen]
	rec.Data = payload[hlen:]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(buf[16:]) {
		return frameBadData, frameBytes + plen
	}
	return frameOK, frameBytes + plen
}

// parseHeader decodes a record's header into rec.
func parseHeader(h []byte, rec *Record) error {
	rec.ID.Ms = binary.LittleEndian.Uint64(h)
	rec.ID.Seq = binary.LittleEndian.Uint64(h[8:])
	rec.Time = int64(binary.LittleEndian.Uint64(h[16:]))
	flags := h[24]
	h = h[25:]
	rec.Idempotent = flags&flagIdem != 0
	if rec.Idempotent {
		if len(h) < 64 {
			return errHeader
		}
		copy(rec.Scope[:], h)
		copy(rec.Fingerprint[:], h[32:])
		h = h[64:]
	}
	n, k := binary.Uvarint(h)
	if k <= 0 || n > uint64(len(h)) {
		return errHeader
	}
	h = h[k:]
	rec.Topics = rec.Topics[:0]
	for range n {
		s, rest, err := takeString(h)
		if err != nil {
			return err
		}
		rec.Topics = append(rec.Topics, s)
		h = rest
	}
	name, rest, err := takeString(h)
	if err != nil || len(rest) != 0 {
		return errHeader
	}
	rec.Name = name
	return nil
}

// takeString takes a length-prefixed string off the front of h.
func takeString(h []byte) (string, []byte, error) {
	n, k := binary.Uvarint(h)
	if k <= 0 || n > uint64(len(h)-k) {
		return "", nil, errHeader
	}
	return string(h[k : k+int(n)]), h[k+int(n):], nil
}
