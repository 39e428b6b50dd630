package memory_test

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/sse"
)

// The memory figures of the README's Performance table:
//
//	go test -run '^$' -bench 'HistoryMemory/per' -benchtime 1x ./broker/memory/
//	go test -run '^$' -bench 'HistoryMemory/1M' -benchtime 1x ./broker/memory/
//
// Run the 1M case on its own: it reads the process's RSS.
func BenchmarkHistoryMemory(b *testing.B) {
	// Bounds high enough that nothing is evicted while measuring.
	roomy := sse.BrokerOptions{HistoryMaxTopics: 1 << 30, HistoryMaxBytes: 1 << 40}
	b.Run("per-topic", func(b *testing.B) {
		const topics = 100_000
		for range b.N {
			perTopic := liveBytesPer(b, roomy, topics, 1) // one 1 KB event per topic
			perEvent := eventBytes(b, roomy)
			b.ReportMetric(perTopic, "B/topic+event")
			b.ReportMetric(perTopic-perEvent, "B/topic")
		}
	})
	b.Run("per-event", func(b *testing.B) {
		for range b.N {
			perEvent := eventBytes(b, roomy)
			b.ReportMetric(perEvent, "B/event")
			b.ReportMetric(perEvent-1024, "B/event-overhead")
			b.ReportMetric(float64(memory.EventBytes(sse.Event{ID: "1700000000000-0", Name: "e", Data: make([]byte, 1024)})), "B/event-estimate")
		}
	})
	b.Run("1M-topics-defaults", func(b *testing.B) {
		for range b.N {
			before := rss(b)
			m := memory.New(sse.BrokerOptions{})
			publishKBs(b, m, 1_000_000, 1)
			runtime.GC()
			b.ReportMetric(float64(rss(b))/(1<<20), "MiB-RSS")
			b.ReportMetric(float64(before)/(1<<20), "MiB-RSS-before")
			b.ReportMetric(float64(peakRSS(b))/(1<<20), "MiB-RSS-peak")
			b.ReportMetric(float64(liveHeap())/(1<<20), "MiB-live-heap")
			b.ReportMetric(float64(m.TopicCount()), "topics-kept")
			runtime.KeepAlive(m)
			m.Close()
		}
	})
}

// eventBytes measures the live heap one more 1 KB event costs in a topic
// with the default history size: 1,000 topics of 100 events against 1,000
// topics of one.
func eventBytes(b *testing.B, opts sse.BrokerOptions) float64 {
	b.Helper()
	const topics = 1000
	full := liveBytesPer(b, opts, topics, sse.DefaultHistorySize) * topics
	one := liveBytesPer(b, opts, topics, 1) * topics
	return (full - one) / float64(topics*(sse.DefaultHistorySize-1))
}

// liveBytesPer publishes perTopic 1 KB events to each of topics topics of
// a new broker and returns the live heap that added, per topic.
func liveBytesPer(b *testing.B, opts sse.BrokerOptions, topics, perTopic int) float64 {
	b.Helper()
	base := liveHeap()
	m := memory.New(opts)
	publishKBs(b, m, topics, perTopic)
	grown := liveHeap() - base
	runtime.KeepAlive(m)
	m.Close()
	return float64(grown) / float64(topics)
}

// publishKBs publishes perTopic events of 1 KB (each its own allocation,
// as a decoded request's would be) to each of topics distinct topics.
func publishKBs(b *testing.B, m *memory.Broker, topics, perTopic int) {
	b.Helper()
	ctx := context.Background()
	for i := range perTopic {
		for j := range topics {
			msg := sse.Message{Topics: []string{"topic:" + strconv.Itoa(j)}, Event: "e", Data: kilobyte(i)}
			if _, err := m.Publish(ctx, msg); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// liveHeap returns the bytes of live heap objects after a collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// rss returns the process's resident set (VmRSS), in bytes.
func rss(b *testing.B) uint64 { b.Helper(); return procStatus(b, "VmRSS:") }

// peakRSS returns the process's peak resident set (VmHWM), in bytes.
func peakRSS(b *testing.B) uint64 { b.Helper(); return procStatus(b, "VmHWM:") }

// procStatus returns a kB field of /proc/self/status in bytes.
func procStatus(b *testing.B, field string) uint64 {
	b.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatalf("reading the RSS needs Linux's /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}
