package memory_test

import (
	"context"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/sse"
)

// BenchmarkPublishDurable publishes 1 KB events from 64 goroutines to 10
// topics, as the HTTP publishers of the README's durability figures do,
// on the broker in memory and with a data directory in each fsync mode:
// acknowledged publishes a second, and fsyncs per publish (group commit).
//
//	go test -run '^$' -bench PublishDurable -benchtime 3s ./broker/memory/
func BenchmarkPublishDurable(b *testing.B) {
	for _, mode := range []string{"memory", "always", "interval", "off"} {
		b.Run(mode, func(b *testing.B) {
			opts := sse.BrokerOptions{}
			if mode != "memory" {
				opts.DataDir, opts.Fsync = b.TempDir(), sse.FsyncMode(mode)
			}
			opts.Logger = slog.New(slog.DiscardHandler)
			m, err := memory.Open(opts)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = m.Close() })
			data := []byte(`{"text":"` + strings.Repeat("x", 1000) + `"}`)
			var next atomic.Int64
			b.SetParallelism(32) // 64 goroutines on 2 processors
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				topic := "t" + strconv.Itoa(int(next.Add(1))%10)
				msg := sse.Message{Topics: []string{topic}, Event: "e", Data: data}
				for pb.Next() {
					if _, err := m.Publish(context.Background(), msg); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "publishes/s")
			if st := m.LogStats(); st.Writes > 0 {
				b.ReportMetric(float64(b.N)/float64(st.Writes), "publishes/write")
				b.ReportMetric(float64(b.N)/float64(max(1, st.Syncs)), "publishes/fsync")
			}
		})
	}
}

// BenchmarkOpenDurable256MiB measures a restart with 256 MiB of history
// on disk (2,700 topics of 100 events of 1 KB): the time from Open to a
// broker ready to serve, and the heap it then holds.
//
//	go test -run '^$' -bench OpenDurable256MiB -benchtime 3x ./broker/memory/
func BenchmarkOpenDurable256MiB(b *testing.B) {
	dir := b.TempDir()
	opts := sse.BrokerOptions{DataDir: dir, Fsync: sse.FsyncOff, HistoryMaxBytes: 1 << 30,
		HistoryAge: time.Hour, Logger: slog.New(slog.DiscardHandler)}
	m, err := memory.Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	data := []byte(`{"text":"` + strings.Repeat("x", 1000) + `"}`)
	ctx := context.Background()
	var written int
	for i := 0; written < 256<<20; i++ {
		msg := sse.Message{Topics: []string{"topic-" + strconv.Itoa(i%2700)}, Event: "e", Data: data}
		if _, err := m.Publish(ctx, msg); err != nil {
			b.Fatal(err)
		}
		written += len(data)
	}
	if err := m.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		m, err := memory.Open(opts)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if n := m.Recovery().Records; n < 256<<20/len(data) {
			b.Fatalf("%d records read back", n)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(m.DiskBytes())/(1<<20), "disk-MiB")
		_ = m.Close()
		b.StartTimer()
	}
}
