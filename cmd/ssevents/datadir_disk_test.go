package main_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ssevents/ssevents/internal/streamid"
)

// Shape of the full-disk runs: a tmpfs of diskSize with diskFiller bytes
// taken by a file of the test, so that the segment fills the rest after
// about a hundred publishes of diskEventBytes from diskPublishers
// concurrent publishers.
const (
	diskSize       = "2m"
	diskBigger     = "8m"
	diskFiller     = 1 << 20
	diskEventBytes = 8000 // not a multiple of the page size: a write that fails is often partial
	diskPublishers = 8
	// diskMaxPublishes bounds the publishes before the disk is full:
	// many more and the hub does not write what it acknowledges.
	diskMaxPublishes = 1000
	diskTopic        = "disk"
)

// testDataDirFullDisk: the data directory on a small tmpfs. Publishes
// are acknowledged until the disk is full; then they are answered 503
// with a JSON error that says the history could not be written, and
// none of them is in the history; every acknowledged one is. Once space
// returns (a file deleted, or the tmpfs remounted bigger) the same hub
// accepts publishes again, and after kill -9 and a restart nothing
// acknowledged is lost.
func testDataDirFullDisk(t *testing.T, bin string) {
	tests := []struct {
		name string
		free func(t *testing.T, dir string)
	}{
		{"a file deleted", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
				t.Fatal(err)
			}
		}},
		{"remounted bigger", func(t *testing.T, dir string) {
			mustRun(t, "mount", "-o", "remount,size="+diskBigger, dir)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := mountTmpfs(t, diskSize)
			if err := os.WriteFile(filepath.Join(dir, "filler"), make([]byte, diskFiller), 0o644); err != nil {
				t.Fatal(err)
			}
			h := startDurableHub(t, bin, dir)
			first := readDataset(t, dir).First
			d := &diskPublishes{t: t, h: h, acked: map[string]string{}, refused: map[string]postAnswer{}}

			// Until the disk is full: each publisher stops at its
			// first refusal; then, alone, a publish of the same size
			// is refused again.
			d.concurrently("full", func(_ int, ans postAnswer) bool { return ans.status != http.StatusOK })
			if len(d.refused) != diskPublishers {
				t.Fatalf("%d publishes refused, want one for each of the %d publishers", len(d.refused), diskPublishers)
			}
			again, ok := d.one("full-again")
			if !ok || again.status == http.StatusOK {
				t.Fatalf("a publish with the disk still full: %+v", again)
			}
			for key, ans := range d.refused {
				if ans.status != http.StatusServiceUnavailable || !strings.Contains(ans.errMsg, "disk") || !strings.Contains(ans.errMsg, "no space left") {
					t.Errorf("publish %s with the disk full: %+v; want 503 with a JSON error that says the disk write failed for want of space", key, ans)
				}
				if strings.Contains(ans.errMsg, dir) {
					t.Errorf("publish %s with the disk full: the error %q shows the server's path %s", key, ans.errMsg, dir)
				}
			}
			t.Logf("disk full after %d acknowledged publishes: %+v", len(d.acked), again)

			tt.free(t, dir)
			d.concurrently("freed", func(i int, ans postAnswer) bool {
				if ans.status != http.StatusOK {
					t.Errorf("publish after space came back: %+v, want 200", ans)
					return true
				}
				return i == 4
			})
			d.check("after space came back", first)

			if err := h.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			<-h.done
			d.h = startDurableHub(t, bin, dir)
			d.check("after kill -9 and a restart", first)
		})
	}
}

// diskPublishes records the publishes of a full-disk test.
type diskPublishes struct {
	t       *testing.T
	h       *hubProc
	mu      sync.Mutex
	n       int                   // publishes sent
	acked   map[string]string     // key -> id
	refused map[string]postAnswer // by key
}

// one publishes one event whose key starts with prefix and records the
// answer; ok is false when there was none, or too many were sent.
func (d *diskPublishes) one(prefix string) (ans postAnswer, ok bool) {
	d.mu.Lock()
	key := fmt.Sprintf("%s%d", prefix, d.n)
	d.n++
	n := d.n
	d.mu.Unlock()
	if n > diskMaxPublishes {
		d.t.Errorf("%d publishes and the disk is not full", diskMaxPublishes)
		return ans, false
	}
	ans, err := post(d.t.Context(), d.h.url(), []string{diskTopic}, payload(key, diskEventBytes), "")
	if err != nil {
		d.t.Errorf("publish %s: %v\nhub log:\n%s", key, err, d.h.log)
		return ans, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if ans.status == http.StatusOK {
		d.acked[key] = ans.id
	} else {
		d.refused[key] = ans
	}
	return ans, true
}

// concurrently runs diskPublishers publishers, each until done says so
// of its i-th publish's answer.
func (d *diskPublishes) concurrently(prefix string, done func(i int, ans postAnswer) bool) {
	var wg sync.WaitGroup
	for p := range diskPublishers {
		wg.Go(func() {
			for i := 0; ; i++ {
				ans, ok := d.one(fmt.Sprintf("%s-p%d-", prefix, p))
				if !ok || done(i, ans) {
					return
				}
			}
		})
	}
	wg.Wait()
	if d.t.Failed() {
		d.t.FailNow()
	}
}

// check reads the hub's history and fails the test unless it holds
// exactly the acknowledged publishes, with their ids, in id order.
func (d *diskPublishes) check(when, first string) {
	t := d.t
	t.Helper()
	r := readHistory(t, d.h, []string{diskTopic}, first)
	if len(r.resyncs) != 0 {
		t.Errorf("%s: resyncs %+v", when, r.resyncs)
	}
	r.checkOrder(t, first)
	var want []string
	for _, id := range d.acked {
		want = append(want, id)
	}
	slices.SortFunc(want, func(a, b string) int { return compareIDs(t, a, b) })
	if got := r.ids(); !slices.Equal(got, want) {
		t.Errorf("%s: the history holds %d events, want the %d acknowledged", when, len(got), len(want))
	}
	for _, ev := range r.events {
		key := eventKey(t, ev)
		if _, ok := d.refused[key]; ok {
			t.Errorf("%s: %s is in the history, but its publish was refused with %+v", when, key, d.refused[key])
		} else if d.acked[key] != ev.ID {
			t.Errorf("%s: %s is in the history as %s, acknowledged as %q", when, key, ev.ID, d.acked[key])
		}
	}
}

func compareIDs(t *testing.T, a, b string) int {
	t.Helper()
	return streamid.Compare(mustParseID(t, a), mustParseID(t, b))
}

// mountTmpfs mounts a tmpfs of size in a new directory of t, unmounted
// when the test ends (after the hubs started on it are killed). It needs
// root.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir)
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", dir, err, out)
		}
	})
	return dir
}

// mustRun runs a command and fails the test unless it succeeds.
func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s (the full-disk test mounts a tmpfs: it runs as root)", name, strings.Join(args, " "), err, out)
	}
}
