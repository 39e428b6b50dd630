package wire_test

import (
	"bytes"
	"errors"
	"io"
	"testing/iotest"
)

// errReadTooFar is returned by a chunkReader read past its last chunk.
var errReadTooFar = errors.New("read past the last chunk")

// chunkReader returns its chunks one per Read, then the error end.
type chunkReader struct {
	chunks [][]byte
	end    error
}

// Read returns the next chunk, or the end error when none is left.
func (r *chunkReader) Read(b []byte) (int, error) {
	for len(r.chunks) > 0 && len(r.chunks[0]) == 0 {
		r.chunks = r.chunks[1:]
	}
	if len(r.chunks) == 0 {
		return 0, r.end
	}
	n := copy(b, r.chunks[0])
	r.chunks[0] = r.chunks[0][n:]
	return n, nil
}

// chunks returns a reader that delivers the given strings one per Read and
// then fails with end.
func chunks(end error, parts ...string) io.Reader {
	r := &chunkReader{end: end}
	for _, p := range parts {
		r.chunks = append(r.chunks, []byte(p))
	}
	return r
}

// readerKind builds a reader over a stream, each kind cutting the stream
// into reads differently.
type readerKind struct {
	name string
	new  func(stream []byte) io.Reader
}

// readerKinds are the ways every parser test feeds its stream: in one read,
// one byte at a time (so every CRLF straddles two reads), in halves, with
// the final read carrying io.EOF, and split at every third byte.
var readerKinds = []readerKind{
	{"whole", func(s []byte) io.Reader { return bytes.NewReader(s) }},
	{"onebyte", func(s []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(s)) }},
	{"half", func(s []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(s)) }},
	{"dataerr", func(s []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(s)) }},
	{"thirds", func(s []byte) io.Reader { return &sizedReader{data: s, size: 3} }},
}

// sizedReader returns at most size bytes per Read, then io.EOF.
type sizedReader struct {
	data []byte
	size int
}

// Read returns the next size bytes, or fewer at the end of the data.
func (r *sizedReader) Read(b []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(b[:min(len(b), r.size)], r.data)
	r.data = r.data[n:]
	return n, nil
}
