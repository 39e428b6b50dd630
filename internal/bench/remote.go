package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// The worker protocol, over a worker process's stdin and stdout, one JSON
// object a line: the parent sends the WorkerConfig, the worker answers with
// a progress message every progressEvery, the parent sends "stop" (or closes
// stdin, as it does when it dies), and the worker sends its result and
// exits.

// progressEvery is how often a worker reports: often enough for a live
// progress line and a prompt end of the drain phase.
const progressEvery = 200 * time.Millisecond

// workerMessage is a line a worker writes.
type workerMessage struct {
	Progress *Progress     `json:"progress,omitempty"`
	Result   *WorkerResult `json:"result,omitempty"`
	Error    string        `json:"error,omitempty"`
}

// ServeWorker runs a worker for a parent process: it reads the
// WorkerConfig from stdin, reports on stdout, and returns after the parent
// says stop or closes stdin.
func ServeWorker(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	in := bufio.NewScanner(stdin)
	in.Buffer(nil, 1<<20)
	enc := json.NewEncoder(stdout)
	if !in.Scan() {
		return fmt.Errorf("bench worker: no configuration on stdin: %v", in.Err())
	}
	var cfg WorkerConfig
	if err := json.Unmarshal(in.Bytes(), &cfg); err != nil {
		return fmt.Errorf("bench worker: bad configuration: %w", err)
	}
	w, err := StartWorker(ctx, cfg)
	if err != nil {
		_ = enc.Encode(workerMessage{Error: err.Error()})
		return err
	}
	stop := make(chan struct{})
	go func() {
		for in.Scan() && in.Text() != "stop" {
		}
		close(stop)
	}()
	var mu sync.Mutex // enc is shared with the final message
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p := w.Progress()
				mu.Lock()
				_ = enc.Encode(workerMessage{Progress: &p})
				mu.Unlock()
			}
		}
	}()
	select {
	case <-stop:
	case <-ctx.Done():
	}
	res, err := w.Stop()
	close(done)
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		return enc.Encode(workerMessage{Error: err.Error()})
	}
	return enc.Encode(workerMessage{Result: &res})
}

// WorkerHandle is the parent's view of a worker, in this process or
// another. Ready and Progress are safe for concurrent use; Stop is called
// once, and Progress after it returns the final counts.
type WorkerHandle interface {
	// Ready is closed when the worker's connect phase is over.
	Ready() <-chan struct{}
	// Progress returns the latest counts.
	Progress() Progress
	// Stop ends the worker and returns its result.
	Stop() (WorkerResult, error)
}

var _ WorkerHandle = (*Worker)(nil)

// SpawnFunc starts worker process index and returns its stdin and stdout
// and a function that waits for it to exit.
type SpawnFunc func(ctx context.Context, index int) (stdin io.WriteCloser, stdout io.Reader, wait func() error, err error)

// ExecSpawn returns a SpawnFunc that runs argv (the program and its
// arguments, e.g. os.Executable() "bench" "--worker"), with its stderr
// passed through to stderr.
func ExecSpawn(argv []string, stderr io.Writer) SpawnFunc {
	return func(ctx context.Context, index int) (io.WriteCloser, io.Reader, func() error, error) {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Stderr = stderr
		cmd.Env = os.Environ()
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, nil, nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, nil, nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, nil, nil, fmt.Errorf("bench: starting worker %d: %w", index, err)
		}
		return stdin, stdout, cmd.Wait, nil
	}
}

// remoteWorker is a WorkerHandle for a worker process.
type remoteWorker struct {
	stdin io.WriteCloser
	wait  func() error

	mu       sync.Mutex
	progress Progress
	ready    chan struct{}
	result   chan workerMessage // the final message, or an error
}

// startRemote spawns a worker and sends it cfg.
func startRemote(ctx context.Context, spawn SpawnFunc, index int, cfg WorkerConfig) (*remoteWorker, error) {
	stdin, stdout, wait, err := spawn(ctx, index)
	if err != nil {
		return nil, err
	}
	r := &remoteWorker{stdin: stdin, wait: wait, ready: make(chan struct{}), result: make(chan workerMessage, 1)}
	b, _ := json.Marshal(cfg)
	if _, err := fmt.Fprintf(stdin, "%s\n", b); err != nil {
		_ = stdin.Close()
		_ = wait()
		return nil, fmt.Errorf("bench: configuring worker %d: %w", index, err)
	}
	go r.read(stdout, index)
	return r, nil
}

// read follows the worker's messages until its result.
func (r *remoteWorker) read(stdout io.Reader, index int) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 16<<20) // a result holds two histograms (tens of KB) and a count per event: up to ~7 MB at MaxEvents
	readyOnce := sync.OnceFunc(func() { close(r.ready) })
	defer readyOnce() // a worker that died is "ready": its count says what it has
	for sc.Scan() {
		var m workerMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			continue // not ours (a stray print); ignore
		}
		switch {
		case m.Progress != nil:
			r.mu.Lock()
			r.progress = *m.Progress
			r.mu.Unlock()
			if m.Progress.Ready {
				readyOnce()
			}
		case m.Result != nil || m.Error != "":
			r.result <- m
			return
		}
	}
	r.result <- workerMessage{Error: fmt.Sprintf("worker %d exited without a result (%v)", index, sc.Err())}
}

func (r *remoteWorker) Ready() <-chan struct{} { return r.ready }

func (r *remoteWorker) Progress() Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.progress
}

func (r *remoteWorker) Stop() (WorkerResult, error) {
	_, _ = io.WriteString(r.stdin, "stop\n")
	m := <-r.result
	_ = r.stdin.Close()
	werr := r.wait()
	if m.Result == nil {
		return WorkerResult{}, errors.Join(errors.New("bench: "+m.Error), werr)
	}
	return *m.Result, nil
}
