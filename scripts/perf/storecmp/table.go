package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strings"
)

// render returns the Markdown table of results: medians of the runs of
// each measurement, with their range.
func render(cfg config, results map[string][]result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| design | publishes/s, fsync always (%d publishers, %d topics, %d B) | publish p99 | CPU per publish | recovery of %d MiB (open until serving) | recovery CPU | heap / RSS serving it (anon + file) | resume, %d missed | disk after %d× the %d MiB bound: peak / %s after | disk when the bound drops to %d MiB under %d MiB of history: before / %s after | code (lines, non-blank non-comment) |\n",
		cfg.publishers, cfg.topics, cfg.size, cfg.history>>20, resumeMissed, cfg.factor, cfg.bound>>20, settle, cfg.bound>>20, cfg.history>>20, 2*settle)
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, d := range cfg.designs {
		pub := ok(results[d.name+"/publish"])
		rec := ok(results[d.name+"/recover"])
		if !d.durable {
			rec = ok(results[d.name+"/fill"]) // memory and resume, measured where it was filled
		}
		disk := ok(results[d.name+"/disk"])
		row := []string{d.title}
		row = append(row, spread(pub, func(r result) float64 { return r.PerSecond }, "%.0f"))
		row = append(row, spread(pub, func(r result) float64 { return r.P99Ms }, "%.1f ms"))
		row = append(row, spread(pub, func(r result) float64 { return r.CPUUs }, "%.0f µs"))
		if d.durable {
			// The first open after the fill is the one that finds the
			// history as the process that wrote it left it (pebble then
			// replays and flushes its WAL); later ones find what the
			// previous open left.
			cell := spreadFunc(rec, func(r result) float64 { return r.OpenSeconds }, seconds)
			if len(rec) > 1 {
				cell += "; first open " + seconds(rec[0].OpenSeconds)
			}
			row = append(row, cell)
			row = append(row, spreadFunc(rec, func(r result) float64 { return r.OpenCPU }, seconds))
		} else {
			row = append(row, "n/a (nothing to recover)", "n/a")
		}
		if len(rec) > 0 {
			r := rec[medianIndex(rec, func(r result) float64 { return float64(r.RSS) })]
			row = append(row, fmt.Sprintf("%s / %s (%s + %s)", mib(int64(r.HeapInuse)), mib(int64(r.RSS)), mib(int64(r.RSSAnon)), mib(int64(r.RSSFile))))
			row = append(row, spread(rec, func(r result) float64 { return r.ResumeUs }, "%.0f µs"))
		} else {
			row = append(row, "–", "–")
		}
		if len(disk) > 0 {
			r := disk[0]
			row = append(row, fmt.Sprintf("%s (%.1f×) / %s (%.1f×)", mib(r.DiskPeak), float64(r.DiskPeak)/float64(r.Bound),
				mib(r.DiskSettled), float64(r.DiskSettled)/float64(r.Bound)))
		} else if d.durable {
			row = append(row, "–")
		} else {
			row = append(row, "n/a")
		}
		if sh := ok(results[d.name+"/shrink"]); len(sh) > 0 {
			r := sh[0]
			row = append(row, fmt.Sprintf("%s / %s (%.1f×)", mib(r.DiskPeak), mib(r.DiskSettled), float64(r.DiskSettled)/float64(r.Bound)))
		} else if d.durable {
			row = append(row, "–")
		} else {
			row = append(row, "n/a")
		}
		row = append(row, codeSize(d.files))
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	var failed []string
	for _, rs := range results {
		for _, r := range rs {
			if r.Err != "" {
				failed = append(failed, fmt.Sprintf("%s %s: %s", r.Design, r.Mode, r.Err))
			}
		}
	}
	slices.Sort(failed)
	if len(failed) > 0 {
		b.WriteString("\n")
	}
	for _, f := range failed {
		fmt.Fprintf(&b, "failed: %s\n", f)
	}
	return b.String()
}

func ok(rs []result) []result {
	return slices.DeleteFunc(slices.Clone(rs), func(r result) bool { return r.Err != "" })
}

// spread formats the median of f over rs, with the range when there are
// several runs.
func spread(rs []result, f func(result) float64, format string) string {
	return spreadFunc(rs, f, func(v float64) string { return fmt.Sprintf(format, v) })
}

// spreadFunc is spread with a function that formats a value.
func spreadFunc(rs []result, f func(result) float64, format func(float64) string) string {
	if len(rs) == 0 {
		return "–"
	}
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	s := format(v[len(v)/2])
	if len(v) > 1 {
		s += " (" + format(v[0]) + "–" + format(v[len(v)-1]) + ")"
	}
	return s
}

// seconds formats a time in seconds, under one second in milliseconds.
func seconds(v float64) string {
	if v < 1 {
		return fmt.Sprintf("%.0f ms", v*1000)
	}
	return fmt.Sprintf("%.2f s", v)
}

func medianIndex(rs []result, f func(result) float64) int {
	idx := make([]int, len(rs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch x, y := f(rs[a]), f(rs[b]); {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	return idx[len(idx)/2]
}

// codeSize counts the non-blank lines of files that are not only a
// comment, and all their lines.
func codeSize(files []string) string {
	if len(files) == 0 {
		return "–"
	}
	code, all := 0, 0
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return "? (" + err.Error() + ")"
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			all++
			if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "//") {
				code++
			}
		}
		f.Close()
	}
	return fmt.Sprintf("%d (%d with comments, %d files)", code, all, len(files))
}
