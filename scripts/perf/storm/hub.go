package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is the unit of utime and stime in /proc/PID/stat (USER_HZ),
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// hubProc is one `ssevents serve` process the tool starts, stops and
// starts again on the same address with the same settings.
type hubProc struct {
	name   string
	addr   string
	bin    string
	env    []string
	logDir string

	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	starts int
}

// start runs the hub, its output in logDir/NAME.START.log.
func (h *hubProc) start() error {
	h.starts++
	log, err := os.Create(filepath.Join(h.logDir, fmt.Sprintf("%s.%d.log", h.name, h.starts)))
	if err != nil {
		return err
	}
	cmd := exec.Command(h.bin, "serve")
	cmd.Env = h.env
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = hubProcAttr()
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return fmt.Errorf("start %s: %w", h.name, err)
	}
	h.cmd = cmd
	h.exited = make(chan struct{})
	go func(exited chan struct{}) {
		_ = cmd.Wait()
		_ = log.Close()
		close(exited)
	}(h.exited)
	return nil
}

// pid is the running process's id.
func (h *hubProc) pid() int { return h.cmd.Process.Pid }

// waitListening polls /health/live every 10 ms until it answers 200 and
// returns when that answer arrived.
func (h *hubProc) waitListening(ctx context.Context, timeout time.Duration) (time.Time, error) {
	c := &http.Client{Timeout: time.Second}
	end := time.Now().Add(timeout)
	for time.Now().Before(end) {
		select {
		case <-h.exited:
			return time.Time{}, fmt.Errorf("%s exited; see its log in %s", h.name, h.logDir)
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+h.addr+"/health/live", nil)
		resp, err := c.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Now(), nil
			}
		}
		if ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Time{}, fmt.Errorf("%s not listening on %s after %v", h.name, h.addr, timeout)
}

// stop sends sig and waits up to timeout for the process to exit.
func (h *hubProc) stop(sig syscall.Signal, timeout time.Duration) error {
	if h.cmd == nil {
		return nil
	}
	_ = h.cmd.Process.Signal(sig)
	select {
	case <-h.exited:
		return nil
	case <-time.After(timeout):
		_ = h.cmd.Process.Kill()
		<-h.exited
		return fmt.Errorf("%s did not exit within %v of %v; killed", h.name, timeout, sig)
	}
}

// metrics fetches the hub's /metrics JSON snapshot.
func (h *hubProc) metrics(ctx context.Context) (hubMetrics, error) {
	var m hubMetrics
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+h.addr+"/metrics", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return m, err
	}
	defer func() { _ = resp.Body.Close() }()
	return m, json.NewDecoder(resp.Body).Decode(&m)
}

// hubMetrics is the part of the hub's /metrics snapshot the report shows.
type hubMetrics struct {
	Connections struct {
		Current                int64 `json:"current"`
		Total                  int64 `json:"total"`
		SlowDisconnected       int64 `json:"slow_disconnected"`
		Rejected               int64 `json:"rejected"`
		RejectedMaxConnections int64 `json:"rejected_max_connections"`
		RejectedPendingAuth    int64 `json:"rejected_pending_auth"`
	} `json:"connections"`
	Messages struct {
		Published int64 `json:"published"`
		Replayed  int64 `json:"replayed"`
		Resyncs   int64 `json:"resyncs"`
		Dropped   int64 `json:"dropped"`
	} `json:"messages"`
	Broker struct {
		Errors     int64 `json:"errors"`
		Reconnects int64 `json:"reconnects"`
	} `json:"broker"`
}

// cpuSeconds is the user plus system CPU time process pid has used.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc/PID/stat")
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	u, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (u + st) / clockTicks, nil
}

// statusKB reads one "Name: N kB" line of /proc/PID/status, in bytes.
func statusKB(pid int, name string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", name, pid)
}

// logCount counts the lines of the current process's log that contain
// text.
func (h *hubProc) logCount(text string) int {
	b, err := os.ReadFile(filepath.Join(h.logDir, fmt.Sprintf("%s.%d.log", h.name, h.starts)))
	if err != nil {
		return 0
	}
	return strings.Count(string(b), text)
}
