package deploytest

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ssevents/ssevents/internal/check"
)

// Shape of the SIGKILL run: 30 streams spread by nginx over three hubs
// (about ten on the one killed), 4 topics, 50 publishes a second for 12 s.
// The kill lands killAfter into the publishing, leaving the rest of the run
// for the streams to reconnect through nginx and catch up.
const (
	killStreams  = 30
	killTopics   = 4
	killRate     = 50
	killDuration = 12 * time.Second
	killAfter    = 4 * time.Second
)

// TestHubSIGKILL: a hub behind nginx is killed (SIGKILL, no goodbye) while
// ten or so streams are open on it and publishes flow. Its clients
// reconnect through nginx to the surviving hubs and resume from Redis
// history: the checker must see nothing lost, phantom, duplicated or
// reordered.
func TestHubSIGKILL(t *testing.T) {
	topo := up(t, "")
	token := topo.mint(t, "--publish", "check-*", "--subscribe", "check-*")
	victim := topo.hubPID(t, 1)

	type result struct {
		rep check.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := check.Run(t.Context(), check.Config{
			URLs: []string{topo.NginxURL}, Token: token,
			Streams: killStreams, Topics: killTopics, Rate: killRate, Duration: killDuration,
			Drain: 10 * time.Second,
		})
		done <- result{rep, err}
	}()

	// The checker publishes once every stream is open; the kill waits for
	// that too, and for streams on the victim.
	deadline := time.Now().Add(15 * time.Second)
	for {
		total, onVictim := 0, 0
		for i, u := range topo.HubURLs {
			n := connections(u)
			total += n
			if i == 0 {
				onVictim = n
			}
		}
		if total >= killStreams && onVictim > 0 {
			t.Logf("streams open: %d, %d on hub-1 (pid %d)", total, onVictim, victim)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("streams did not open: %d in all, %d on hub-1\n%s", total, onVictim, logs(topo.state))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(killAfter)
	killed := time.Now()
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatalf("kill hub-1 (pid %d): %v", victim, err)
	}
	waitDead(t, victim)
	t.Logf("hub-1 killed and gone after %v", time.Since(killed).Round(time.Millisecond))

	res := <-done
	t.Log(res.rep.String())
	if res.err != nil {
		t.Fatalf("check: %v\n%s", res.err, logs(topo.state))
	}
	rep := res.rep
	if !rep.OK() {
		t.Errorf("SIGKILL of a hub behind nginx broke the promise: %s\n%s", rep.Violations(), logs(topo.state))
	}
	if rep.Reconnects == 0 {
		t.Error("no stream reconnected: the kill cut none")
	}
	if rep.Acked == 0 || rep.StreamsOpened != killStreams {
		t.Errorf("acked %d, streams opened %d of %d: the run did not run", rep.Acked, rep.StreamsOpened, killStreams)
	}
	// Redis keeps 100 events per topic, and the gap is a second or so at
	// 12 a second per topic: every stream resumes, none needs a resync,
	// so every expected delivery arrives exactly once.
	if rep.Resyncs != 0 || rep.Deliveries != rep.Expected {
		t.Errorf("resyncs %d, deliveries %d of %d expected: want no resync and every delivery", rep.Resyncs, rep.Deliveries, rep.Expected)
	}
}

// mint returns a token from `ssevents token` with the given grants.
func (topo topology) mint(t *testing.T, grants ...string) string {
	t.Helper()
	secret, err := os.ReadFile(topo.SecretFile)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"token", "--secret", strings.TrimSpace(string(secret)), "--ttl", "10m"}, grants...)
	out, err := exec.Command(topo.Bin, args...).Output()
	if err != nil {
		t.Fatalf("ssevents token: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// hubPID returns the pid of hub-i, from up.sh's pid file.
func (topo topology) hubPID(t *testing.T, i int) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(topo.state, "pids", "hub-"+strconv.Itoa(i)+".pid"))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(b))
	if len(fields) != 2 || fields[1] != "ssevents" {
		t.Fatalf("hub-%d.pid holds %q, want \"PID ssevents\"", i, b)
	}
	pid, err := strconv.Atoi(fields[0])
	if err != nil || !running(pid) {
		t.Fatalf("hub-%d pid %q is not running", i, fields[0])
	}
	return pid
}

// connections returns the open streams of the hub at url, from its
// /health/live answer; 0 when it does not answer.
func connections(url string) int {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url + "/health/live")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var h struct{ Connections int }
	if json.NewDecoder(resp.Body).Decode(&h) != nil {
		return 0
	}
	return h.Connections
}

// running reports whether pid is a live process: it exists and is not a
// zombie (a killed process whose parent, here init, has not reaped it).
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

// waitDead waits until pid no longer runs.
func waitDead(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); running(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still runs 5 s after SIGKILL", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
