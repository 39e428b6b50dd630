// Package redistest starts real redis-server processes for tests: single
// servers on free loopback ports, which a test can stop, kill, pause and
// restart on the same port, three-master Redis Clusters, and Redis Clusters
// of three masters with one replica each, for failover tests. Every process
// lives in a t.TempDir of its own and is killed when the test ends (a paused
// one included).
//
// A server started by Start persists nothing (--save "" --appendonly no),
// so Restart brings it back empty, like a crashed cache. A server started
// by StartPersistent writes an append-only file synced on every write
// (--appendonly yes --appendfsync always) in its directory, so Restart
// brings it back with every write it acknowledged, even after Kill.
//
// A missing redis-server fails the test (it never skips): CI must run the
// Redis tests. Run .ci/run, which installs the redis-server package, or
// install it yourself (apt-get install redis-server; Redis 7 or later).
package redistest

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to answer with its
// dataset loaded.
const startTimeout = 10 * time.Second

// Server is one redis-server process. Its methods are safe for concurrent
// use.
type Server struct {
	// Port is the TCP port on 127.0.0.1 the server listens on; it stays the
	// same across Restart.
	Port int

	t    testing.TB
	dir  string
	args []string
	tls  *tls.Config // set when the server speaks only TLS

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when cmd has exited
	runs   int
	paused bool // SIGSTOPped by Pause and not yet continued
}

// Start starts a redis-server on a free port with extra arguments added to
// the defaults (no persistence, loopback only) and waits until it answers.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	return start(t, freePort(t, false), extra...)
}

// StartPersistent is Start for a server that keeps its data across Kill
// and Restart: an append-only file, fsynced before every write is
// acknowledged, in the server's own directory.
func StartPersistent(t testing.TB, extra ...string) *Server {
	t.Helper()
	return start(t, freePort(t, false), append([]string{"--appendonly", "yes", "--appendfsync", "always"}, extra...)...)
}

func start(t testing.TB, port int, extra ...string) *Server {
	t.Helper()
	return startTLS(t, port, nil, extra...)
}

func startTLS(t testing.TB, port int, tlsConf *tls.Config, extra ...string) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is not on PATH: run .ci/run, which installs it (apt-get install redis-server, Redis 7+): %v", err)
	}
	s := &Server{Port: port, t: t, dir: t.TempDir(), tls: tlsConf}
	s.args = append([]string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no",
		"--dir", s.dir, "--logfile", "redis.log",
	}, extra...)
	if len(extra) > 0 && extra[0] == sentinelMarker {
		// Sentinel: the config file must come first, and it takes no
		// persistence options.
		conf := filepath.Join(s.dir, "sentinel.conf")
		if err := os.WriteFile(conf, []byte(strings.Join(extra[1:], "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		s.args = []string{conf, "--sentinel", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--daemonize", "no", "--dir", s.dir, "--logfile", "redis.log"}
	}
	t.Cleanup(s.Kill)
	// Another process (a test of another package, another run on the
	// same machine) may take the free port between its choice and the
	// server's bind: then start again on another port.
	for attempt := 1; !s.run(attempt < portAttempts); attempt++ {
		s.Kill()
		s.setPort(freePort(t, true))
	}
	return s
}

// portAttempts is how many ports a new server tries before its test fails.
const portAttempts = 5

// setPort makes the server listen on port from its next start (its TLS
// port, for a server whose plain port is off).
func (s *Server) setPort(port int) {
	s.Port = port
	for i := 0; i+1 < len(s.args); i++ {
		if (s.args[i] == "--port" && s.args[i+1] != "0") || s.args[i] == "--tls-port" {
			s.args[i+1] = strconv.Itoa(port)
		}
	}
}

// Addr returns "127.0.0.1:<port>".
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL returns "redis://127.0.0.1:<port>/0".
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// run starts the server and waits until it is ready. When the port turns
// out to be another process's and portTaken allows it, it returns false
// instead of failing the test.
func (s *Server) run(portTaken bool) bool {
	s.t.Helper()
	s.mu.Lock()
	cmd := exec.Command("redis-server", s.args...)
	cmd.Dir = s.dir
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		s.t.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	s.runs++
	s.mu.Unlock()
	deadline := time.Now().Add(startTimeout)
	for {
		// INFO is answered while the dataset is still loading (most other
		// commands then answer LOADING), so the server is ready only once
		// INFO says it has loaded its append-only file or RDB (a Sentinel,
		// which has no dataset, leaves the loading fields out).
		if info, err := s.Do("INFO"); err == nil {
			// The server that answers must be the one just started, not
			// another process that took the port while it was free.
			if infoField(info, "process_id") != strconv.Itoa(cmd.Process.Pid) {
				if portTaken {
					return false
				}
				s.t.Fatalf("port %d is held by another process, not the redis-server just started (pid %d)", s.Port, cmd.Process.Pid)
			}
			if infoField(info, "loading") != "1" && infoField(info, "async_loading") != "1" {
				return true
			}
		}
		select {
		case <-done:
			if tail := s.logTail(); portTaken && strings.Contains(tail, "Address already in use") {
				return false
			}
			s.t.Fatalf("redis-server on port %d exited at start: %s", s.Port, s.logTail())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on port %d did not answer with its dataset loaded within %v: %s", s.Port, startTimeout, s.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// infoField returns the value of field in the text of an INFO reply, ""
// when it is missing.
func infoField(info, field string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), field+":"); ok {
			return v
		}
	}
	return ""
}

const sentinelMarker = "\x00sentinel"

// StartSentinel starts a Redis Sentinel on a free port that monitors
// master under the name master (quorum 1).
func StartSentinel(t testing.TB, master *Server, name string) *Server {
	t.Helper()
	return start(t, freePort(t, false), sentinelMarker,
		"sentinel monitor "+name+" 127.0.0.1 "+strconv.Itoa(master.Port)+" 1",
		"sentinel down-after-milliseconds "+name+" 1000")
}

// Stop shuts the server down gracefully (SIGTERM) and waits until it has
// exited.
func (s *Server) Stop() { s.signal(os.Interrupt) }

// Kill kills the server (SIGKILL), as a crash would, and waits until it
// has exited. It does nothing if the server is not running.
func (s *Server) Kill() { s.signal(os.Kill) }

func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	cmd, done, paused := s.cmd, s.done, s.paused
	s.cmd, s.paused = nil, false
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	if paused {
		// A stopped process acts on SIGTERM only once it runs again
		// (SIGKILL needs no help).
		_ = cmd.Process.Signal(sigCont)
	}
	select {
	case <-done:
	case <-time.After(startTimeout):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Pause freezes the server (SIGSTOP), as a stalled host or a long GC pause
// would: its connections stay open, nothing answers on them, and new
// connections are accepted by the kernel but never served. It returns once
// the process is stopped. Continue resumes it; Stop, Kill and the end of
// the test end it paused or not. Pause does nothing if the server is not
// running.
func (s *Server) Pause() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.paused {
		return
	}
	if err := s.cmd.Process.Signal(sigStop); err != nil {
		s.t.Fatalf("pause redis-server on port %d: %v", s.Port, err)
	}
	s.paused = true
	waitStopped(s.cmd.Process.Pid)
}

// Continue resumes a server frozen by Pause (SIGCONT). It does nothing if
// the server is not paused.
func (s *Server) Continue() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || !s.paused {
		return
	}
	if err := s.cmd.Process.Signal(sigCont); err != nil {
		s.t.Fatalf("continue redis-server on port %d: %v", s.Port, err)
	}
	s.paused = false
}

// Restart starts the server again on the same port, with the same
// arguments and directory (after Stop or Kill; it kills a running or paused
// server first). A server from Start comes back empty; one from
// StartPersistent comes back with its data, replayed from its append-only
// file.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.run(false) // the same port: its clients reconnect there
}

// Do sends one command to the server on a new connection and returns the
// reply as text: a simple or bulk string as is, an integer in decimal, an
// array as its elements joined by newlines (nested arrays flattened), nil as
// "". A Redis error reply is returned as an error.
func (s *Server) Do(args ...string) (string, error) {
	if s.tls == nil {
		return Do(s.Addr(), args...)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", s.Addr(), s.tls)
	if err != nil {
		return "", err
	}
	return do(conn, args)
}

// MustDo is Do that fails the test on error.
func (s *Server) MustDo(args ...string) string {
	s.t.Helper()
	out, err := s.Do(args...)
	if err != nil {
		s.t.Fatalf("redis %v on port %d: %v", args, s.Port, err)
	}
	return out
}

// Do sends one command to the Redis server at addr, as Server.Do does.
func Do(addr string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	return do(conn, args)
}

func do(conn net.Conn, args []string) (string, error) {
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	var parts []string
	if err := readReply(bufio.NewReader(conn), &parts); err != nil {
		return "", err
	}
	return strings.Join(parts, "\n"), nil
}

// readReply reads one RESP2 reply into parts.
func readReply(r *bufio.Reader, parts *[]string) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return fmt.Errorf("redistest: empty reply line")
	}
	switch line[0] {
	case '+', ':':
		*parts = append(*parts, line[1:])
	case '-':
		return fmt.Errorf("redis: %s", line[1:])
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			*parts = append(*parts, "")
			return nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		*parts = append(*parts, string(buf[:n]))
	case '*':
		n, _ := strconv.Atoi(line[1:])
		for range n {
			if err := readReply(r, parts); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("redistest: unexpected reply %q", line)
	}
	return nil
}

func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return "(no log)"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
