package bench

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestServerPIDFindsListener(t *testing.T) {
	t.Parallel()
	// A listener in another process (this test binary, re-run as
	// TestHelperListener): ServerPID skips its own process.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperListener$")
	cmd.Env = append(os.Environ(), "SSEVENTS_BENCH_HELPER_LISTENER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the helper listener: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("listener printed %q", line)
	}
	pid, err := ServerPID(port)
	if err != nil || pid != cmd.Process.Pid {
		t.Fatalf("ServerPID(%d) = %d, %v; want %d", port, pid, err, cmd.Process.Pid)
	}
	if rss, err := RSS(pid); err != nil || rss <= 0 {
		t.Errorf("RSS(%d) = %d, %v", pid, rss, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := ServerPID(ln.Addr().(*net.TCPAddr).Port); err == nil {
		t.Error("ServerPID found a process for a port only this process listens on")
	}
}

// TestHelperListener is not a test: TestServerPIDFindsListener runs this
// binary again with SSEVENTS_BENCH_HELPER_LISTENER=1 to get a listener in
// another process, which prints its port and waits to be killed.
func TestHelperListener(t *testing.T) {
	if os.Getenv("SSEVENTS_BENCH_HELPER_LISTENER") != "1" {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Exit(2)
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	time.Sleep(30 * time.Second)
	os.Exit(0)
}
