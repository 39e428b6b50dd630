package ssevents_test

import (
	"context"
	"encoding/json"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/sse"
)

// openedWith records the options the envtest:// broker was opened with.
var openedWith struct {
	sync.Mutex
	opts sse.BrokerOptions
}

func init() {
	sse.RegisterBroker("envtest", func(_ context.Context, _ *url.URL, opts sse.BrokerOptions) (sse.Broker, error) {
		openedWith.Lock()
		openedWith.opts = opts
		openedWith.Unlock()
		return memory.New(opts), nil
	})
}

// A broker opened by the App reports malformed envelopes through its
// Observer (sse.EnvelopeObserver), and /metrics shows them in the JSON
// document and as sse_envelopes_malformed_total, apart from
// sse_broker_errors (Redis is fine) and sse_messages_dropped (queue
// overflows, which dashboards and alerts divide by deliveries).
// RedisClassicPubSub reaches the broker as BrokerOptions.ClassicPubSub.
func TestMalformedEnvelopesInMetrics(t *testing.T) {
	app, srv := newServer(t, ssevents.Config{BrokerURL: "envtest://", RedisClassicPubSub: true})
	openedWith.Lock()
	opts := openedWith.opts
	openedWith.Unlock()
	if !opts.ClassicPubSub {
		t.Error("RedisClassicPubSub did not reach BrokerOptions.ClassicPubSub")
	}
	obs, ok := opts.Observer.(sse.EnvelopeObserver)
	if !ok {
		t.Fatalf("the broker's Observer %T does not count malformed envelopes", opts.Observer)
	}
	obs.EnvelopeMalformed()
	obs.EnvelopeMalformed()
	if got := app.Metrics().Snapshot().Broker; got.MalformedEnvelopes != 2 || got.Errors != 0 {
		t.Errorf("Snapshot().Broker = %+v, want 2 malformed envelopes and no errors", got)
	}

	resp := get(t, srv.URL+"/metrics", nil)
	var doc struct {
		Broker   map[string]float64 `json:"broker"`
		Messages map[string]float64 `json:"messages"`
	}
	err := json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil || doc.Broker["malformed_envelopes"] != 2 || doc.Broker["errors"] != 0 || doc.Messages["dropped"] != 0 {
		t.Errorf("/metrics: %+v (%v), want broker.malformed_envelopes 2, broker.errors 0, messages.dropped 0", doc, err)
	}

	resp = get(t, srv.URL+"/metrics/prometheus", nil)
	prom, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{
		"# TYPE sse_envelopes_malformed_total counter",
		"\nsse_envelopes_malformed_total 2\n",
		"\nsse_broker_errors 0\n",
		"\nsse_messages_dropped 0\n",
	} {
		if !strings.Contains(string(prom), line) {
			t.Errorf("/metrics/prometheus lacks %q", strings.TrimSpace(line))
		}
	}
}
