// Command storecmp compares the designs of the embedded broker's durable
// history (issue 17): publish throughput with fsync always, recovery time,
// memory, resume time, disk use under the byte bound and code size. It
// runs each measurement in a child process of its own (a clean heap and
// RSS), alternating the designs, and prints a Markdown table of medians.
//
//	go run . -design all -out table.md
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

type config struct {
	designs    []design
	rounds     int
	dur        time.Duration
	publishers int
	topics     int
	size       int
	history    int64
	bound      int64
	factor     int64
	diskFsync  fsyncMode
	tmp        string
	out        string
	skip       map[string]bool
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "storecmp:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fset := flag.NewFlagSet("storecmp", flag.ContinueOnError)
	var cfg config
	names := fset.String("design", "all", "designs to compare, comma-separated: mem, log, bbolt, pebble, or all")
	fset.IntVar(&cfg.rounds, "rounds", 3, "runs of each timed measurement per design, alternating designs; the table shows medians")
	fset.DurationVar(&cfg.dur, "dur", 3*time.Second, "length of one publish-throughput run")
	fset.IntVar(&cfg.publishers, "publishers", 64, "concurrent publishers")
	fset.IntVar(&cfg.topics, "topics", 10, "topics published to, round-robin")
	fset.IntVar(&cfg.size, "size", 1024, "bytes of data per event")
	historyMiB := fset.Int64("history-mib", 256, "MiB of event data in the history that recovery reads and memory holds")
	boundMiB := fset.Int64("bound-mib", 32, "HistoryMaxBytes of the disk-bound run, MiB")
	fset.Int64Var(&cfg.factor, "factor", 10, "the disk-bound run publishes this many times the bound")
	diskFsync := fset.String("disk-fsync", "always", "fsync mode of the disk-bound run: always or off (off publishes faster, so a bound applied on a timer overshoots more)")
	fset.StringVar(&cfg.tmp, "tmp", os.TempDir(), "where the data directories go (removed at the end)")
	fset.StringVar(&cfg.out, "out", "", "also write the table to this file")
	skip := fset.String("skip", "", "measurements to skip, comma-separated: publish, recover, disk")
	fset.DurationVar(&boltBatchDelay, "bolt-batch-delay", boltBatchDelay,
		"bbolt's MaxBatchDelay: how long db.Batch waits for more publishes before it commits (bbolt's own default is 10ms)")
	child := fset.String("child", "", "internal: run one measurement in this process")
	dir := fset.String("dir", "", "internal: the child's data directory")
	cpuprofile := fset.String("cpuprofile", "", "internal: write the child's CPU profile to this file")
	if err := fset.Parse(args); err != nil {
		return err
	}
	cfg.history, cfg.bound = *historyMiB<<20, *boundMiB<<20
	switch *diskFsync {
	case "always":
		cfg.diskFsync = fsyncAlways
	case "off":
		cfg.diskFsync = fsyncOff
	default:
		return fmt.Errorf("-disk-fsync %q: want always or off", *diskFsync)
	}
	cfg.skip = map[string]bool{}
	for _, s := range strings.Split(*skip, ",") {
		cfg.skip[s] = true
	}
	if *names == "all" {
		cfg.designs = designs
	} else {
		for _, n := range strings.Split(*names, ",") {
			d, err := designByName(n)
			if err != nil {
				return err
			}
			cfg.designs = append(cfg.designs, d)
		}
	}
	if *child != "" {
		if *cpuprofile != "" {
			f, err := os.Create(*cpuprofile)
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		var r result
		switch *child {
		case "publish":
			r = childPublish(cfg.designs[0], *dir, cfg)
		case "fill":
			r = childFill(cfg.designs[0], *dir, cfg)
		case "recover":
			r = childRecover(cfg.designs[0], *dir, cfg)
		case "disk":
			r = childDisk(cfg.designs[0], *dir, cfg)
		case "shrink":
			r = childShrink(cfg.designs[0], *dir, cfg)
		default:
			return fmt.Errorf("unknown -child %q", *child)
		}
		return json.NewEncoder(os.Stdout).Encode(r)
	}
	return compare(cfg, args)
}

// compare runs every measurement in child processes and prints the table.
func compare(cfg config, args []string) error {
	root, err := os.MkdirTemp(cfg.tmp, "storecmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	results := map[string][]result{} // by design name + "/" + mode
	seq := 0
	child := func(d design, mode string) result {
		seq++
		dir := filepath.Join(root, fmt.Sprintf("%s-%s-%d", d.name, mode, seq))
		if mode == "recover" || mode == "fill" || mode == "shrink" {
			dir = filepath.Join(root, d.name+"-history")
		}
		if mode == "publish" || mode == "disk" || mode == "fill" {
			os.RemoveAll(dir)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return result{Design: d.name, Mode: mode, Err: err.Error()}
			}
		}
		cmd := exec.Command(self, append(slices.Clone(args), "-child", mode, "-design", d.name, "-dir", dir)...)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		var r result
		if jerr := json.Unmarshal(bytes.TrimSpace(lastLine(out)), &r); jerr != nil {
			r = result{Design: d.name, Mode: mode, Err: fmt.Sprintf("%v %v", err, jerr)}
		}
		if mode == "publish" || mode == "disk" {
			os.RemoveAll(dir)
		}
		fmt.Fprintf(os.Stderr, "%s %-7s %-6s %s\n", time.Now().Format("15:04:05"), mode, d.name, summary(r))
		results[d.name+"/"+mode] = append(results[d.name+"/"+mode], r)
		return r
	}
	durable := slices.DeleteFunc(slices.Clone(cfg.designs), func(d design) bool { return !d.durable })
	if !cfg.skip["publish"] {
		for i := range cfg.rounds {
			for _, d := range rotate(cfg.designs, i) {
				child(d, "publish")
			}
		}
	}
	if !cfg.skip["disk"] {
		for _, d := range durable {
			child(d, "disk")
		}
	}
	if !cfg.skip["recover"] {
		for _, d := range cfg.designs {
			child(d, "fill") // the in-memory reference measures memory here
		}
		for i := range cfg.rounds {
			for _, d := range rotate(durable, i) {
				child(d, "recover")
			}
		}
		for _, d := range durable {
			child(d, "shrink")
			os.RemoveAll(filepath.Join(root, d.name+"-history"))
		}
	}
	table := render(cfg, results)
	fmt.Print(table)
	if cfg.out != "" {
		return os.WriteFile(cfg.out, []byte(table), 0o644)
	}
	return nil
}

func rotate(ds []design, i int) []design {
	if len(ds) == 0 {
		return nil
	}
	i %= len(ds)
	return append(slices.Clone(ds[i:]), ds[:i]...)
}

func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

func summary(r result) string {
	if r.Err != "" {
		return "error: " + r.Err
	}
	switch r.Mode {
	case "publish":
		return fmt.Sprintf("%.0f/s p50 %.2f ms p99 %.2f ms, %.0f µs CPU each", r.PerSecond, r.P50Ms, r.P99Ms, r.CPUUs)
	case "fill":
		return fmt.Sprintf("%d events in %.1f s, %s on disk", r.Acks, r.Seconds, mib(r.DiskClosed))
	case "recover":
		return fmt.Sprintf("open %.3f s (%.2f s CPU), heap %s, rss %s (anon %s, file %s), resume %.0f µs",
			r.OpenSeconds, r.OpenCPU, mib(int64(r.HeapInuse)), mib(int64(r.RSS)), mib(int64(r.RSSAnon)), mib(int64(r.RSSFile)), r.ResumeUs)
	case "shrink":
		return fmt.Sprintf("history of %s, bound lowered to %s: %s, %s later %s, closed %s",
			mib(r.DiskPeak), mib(r.Bound), mib(r.DiskPeak), 2*settle, mib(r.DiskSettled), mib(r.DiskClosed))
	case "disk":
		return fmt.Sprintf("published %s in %.1f s, bound %s: peak %s, end %s, %s later %s (apparent %s), closed %s",
			mib(r.Published), r.Seconds, mib(r.Bound), mib(r.DiskPeak), mib(r.DiskEnd), settle, mib(r.DiskSettled), mib(r.ApparentEnd), mib(r.DiskClosed))
	}
	return ""
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }
