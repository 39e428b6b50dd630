package main_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ssevents/ssevents/internal/streamid"
)

// TestDataDir runs `ssevents serve --data-dir` processes on real files and
// breaks them: kill -9 under load, damaged segments, a full disk, a second
// process on the directory, a Redis URL beside it, a deleted directory.
// The binary is built once for all of them.
func TestDataDir(t *testing.T) {
	t.Parallel()
	bin := buildHub(t)
	tests := []struct {
		name string
		run  func(t *testing.T, bin string)
	}{
		{"kill9 fsync always", testDataDirKill9("always", 5)},
		{"kill9 fsync interval", testDataDirKill9("interval", 3)},
		{"kill9 fsync off", testDataDirKill9("off", 3)},
		{"torn tail", testDataDirTornTail},
		{"damaged record", testDataDirDamage},
		{"full disk", testDataDirFullDisk},
		{"lock", testDataDirLock},
		{"refused with redis", testDataDirRedisRefused},
		{"deleted directory", testDataDirDeleted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, bin)
		})
	}
}

// startDurableHub runs `ssevents serve` on a free port with its history in
// dir (SSE_DATA_DIR), large enough per topic (SSE_HISTORY_SIZE) that no
// test's events are trimmed from it, plus env.
func startDurableHub(t *testing.T, bin, dir string, env ...string) *hubProc {
	t.Helper()
	return startHubProc(t, bin, freeAddr(t), append([]string{"SSE_DATA_DIR=" + dir, "SSE_HISTORY_SIZE=100000"}, env...)...)
}

// postAnswer is the hub's answer to one publish.
type postAnswer struct {
	status int
	id     string // of a 2xx answer
	errMsg string // the JSON error of another
}

// post publishes the JSON string data as event "e" to topics, with the
// Idempotency-Key idemKey unless it is "". err is set only when no HTTP
// answer came (the hub is gone).
func post(ctx context.Context, hubURL string, topics []string, data, idemKey string) (postAnswer, error) {
	body, _ := json.Marshal(map[string]any{"topics": topics, "event": "e", "data": data})
	ctx, cancel := context.WithTimeout(ctx, testTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hubURL+"/publish", bytes.NewReader(body))
	if err != nil {
		return postAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return postAnswer{}, err
	}
	defer resp.Body.Close()
	var ans struct{ ID, Error string }
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return postAnswer{}, err
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return postAnswer{status: resp.StatusCode, errMsg: "not JSON: " + string(raw)}, nil
	}
	return postAnswer{status: resp.StatusCode, id: ans.ID, errMsg: ans.Error}, nil
}

// mustPost publishes and fails the test unless the hub answered 200 with
// an id, which it returns.
func mustPost(t *testing.T, h *hubProc, topics []string, data string) string {
	t.Helper()
	ans, err := post(t.Context(), h.url(), topics, data, "")
	if err != nil || ans.status != http.StatusOK || ans.id == "" {
		t.Fatalf("publish %s to %v: %+v, %v; want 200 with an id\nhub log:\n%s", data, topics, ans, err, h.log)
	}
	return ans.id
}

// resyncEvent is the data of a resync event.
type resyncEvent struct {
	Topic, Reason, Oldest, Genesis string
}

// historyRead is what a stream resumed from an id replayed.
type historyRead struct {
	events  []sseEvent    // in the order received, markers left out
	resyncs []resyncEvent // in the order received, the marker topic's left out
	marker  string        // id of the marker that ended the read
}

// markerTopic is the topic readHistory publishes its markers to.
const markerTopic = "marker"

// readHistory opens a stream of topics and the marker's with
// Last-Event-ID lastID, publishes a marker event once the stream is live,
// and reads the stream up to the marker: everything the hub holds after
// lastID on topics, and the resyncs it answers.
func readHistory(t *testing.T, h *hubProc, topics []string, lastID string) historyRead {
	t.Helper()
	var out historyRead
	q := url.Values{"topic": {strings.Join(append(slices.Clone(topics), markerTopic), ",")}}
	s := subscribe(t, h.url()+"/events?"+q.Encode(), http.Header{"Last-Event-ID": {lastID}})
	defer s.resp.Body.Close()
	// After the backlog, which the hub took when the stream opened.
	out.marker = mustPost(t, h, []string{markerTopic}, "marker")
	for {
		ev := s.next()
		switch {
		case ev.Name == "resync": // its id is the newest, the marker's
			var r resyncEvent
			if err := json.Unmarshal([]byte(ev.Data), &r); err != nil {
				t.Fatalf("resync data %q: %v", ev.Data, err)
			}
			if r.Topic != markerTopic {
				out.resyncs = append(out.resyncs, r)
			}
		case ev.ID == out.marker:
			return out
		case ev.Data != `"marker"`:
			out.events = append(out.events, ev)
		}
	}
}

// reasons returns the reason of r's resync of each topic.
func (r historyRead) reasons() map[string]string {
	out := map[string]string{}
	for _, rs := range r.resyncs {
		out[rs.Topic] = rs.Reason
	}
	return out
}

// ids returns the ids of r's events.
func (r historyRead) ids() []string {
	out := make([]string, len(r.events))
	for i, ev := range r.events {
		out[i] = ev.ID
	}
	return out
}

// checkOrder fails the test unless r's events are in strictly increasing
// id order (no duplicate) and all after lastID.
func (r historyRead) checkOrder(t *testing.T, lastID string) {
	t.Helper()
	prev := mustParseID(t, lastID)
	for _, ev := range r.events {
		id := mustParseID(t, ev.ID)
		if !prev.Less(id) {
			t.Errorf("history replayed %s after %s: out of order, a duplicate, or not after Last-Event-ID %s", id, prev, lastID)
		}
		prev = id
	}
}

func mustParseID(t *testing.T, s string) streamid.ID {
	t.Helper()
	id, err := streamid.Parse(s)
	if err != nil {
		t.Fatalf("id %q: %v", s, err)
	}
	return id
}

// datasetFile is the identity a data directory holds.
type datasetFile struct {
	Dataset, First, Floor string
}

// readDataset reads dir's dataset.json.
func readDataset(t *testing.T, dir string) datasetFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "dataset.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d datasetFile
	if err := json.Unmarshal(b, &d); err != nil || d.Dataset == "" || d.First == "" {
		t.Fatalf("dataset.json %s: %v", b, err)
	}
	return d
}

// segFrame is where one record is in a segment file: the frame (magic,
// lengths, checksums) at off, then the header, then the data.
type segFrame struct {
	off, header, payload int // header and payload lengths; payload includes the header
}

// frameBytes is the size of a record's frame before its payload.
const frameBytes = 20

// dataOff is the offset of the record's data in the file.
func (f segFrame) dataOff() int { return f.off + frameBytes + f.header }

// end is the offset just past the record.
func (f segFrame) end() int { return f.off + frameBytes + f.payload }

// segmentFiles returns the paths of dir's segment files, in order.
func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(paths)
	return paths
}

// segFrames parses the records of an undamaged segment file.
func segFrames(t *testing.T, path string) []segFrame {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []segFrame
	for off := 0; off < len(data); {
		if len(data)-off < frameBytes || string(data[off:off+4]) != "SEV1" {
			t.Fatalf("%s: no record at offset %d", path, off)
		}
		f := segFrame{off: off, payload: int(binary.LittleEndian.Uint32(data[off+4:])), header: int(binary.LittleEndian.Uint32(data[off+8:]))}
		if f.end() > len(data) {
			t.Fatalf("%s: record at %d ends at %d, past the file's %d bytes", path, off, f.end(), len(data))
		}
		out = append(out, f)
		off = f.end()
	}
	return out
}

// copyDir copies the regular files of src into a new directory of t.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "data")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// eventKey returns the key of an event published with payload(key, n).
func eventKey(t *testing.T, ev sseEvent) string {
	t.Helper()
	var s string
	if err := json.Unmarshal([]byte(ev.Data), &s); err != nil {
		t.Fatalf("event %s: data %.80q is not a JSON string: %v", ev.ID, ev.Data, err)
	}
	key, _, _ := strings.Cut(s, " ")
	return key
}

// payload returns a JSON-string data of about n bytes named key.
func payload(key string, n int) string {
	return fmt.Sprintf("%s %s", key, strings.Repeat("x", max(n-len(key)-1, 0)))
}
