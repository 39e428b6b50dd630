module github.com/ssevents/ssevents/scripts/perf/presence

go 1.26.0
