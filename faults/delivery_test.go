package faults_test

import (
	"testing"
	"time"

	"github.com/ssevents/ssevents/faults/faultproxy"
	"github.com/ssevents/ssevents/internal/check"
	"github.com/ssevents/ssevents/internal/redistest"
)

// faultAt is when, after publishing started, each scenario's fault
// begins: the streams are caught up and publishing is steady.
const faultAt = 3 * time.Second

// timeoutQuery is the broker URL's round-trip bound in every scenario:
// the default, spelled out, and more than the 500 ms of added latency of
// the Partition scenario.
const timeoutQuery = "?timeout=2s"

// scenario is one real fault under the checker: two hubs sharing Redis,
// the checker publishing through both, and the fault in the middle.
type scenario struct {
	name string
	// publish is how long the checker publishes; the fault must be over
	// well before it ends.
	publish time.Duration
	// start starts Redis and returns each hub's broker URL and the fault,
	// which runs once publishing has started.
	start func(t *testing.T) (brokers []string, fault func(r *faultRun))
	// hit fails the test unless the report and the hubs show that the
	// fault really happened.
	hit func(t *testing.T, rep check.Report, hubs []*testHub)
}

// TestDeliveryUnderFaults runs the delivery checker (internal/check)
// while Redis is paused, killed, cut off or failed over, and asserts the
// promise: every stream receives each event published with a 2xx answer
// on its topics once and in order, or a resync of the topic; no event
// whose publish was answered with an error is ever delivered.
//
// The scenarios run one after the other, not in parallel: each one loads
// the two cores with 20 streams and 50 publishes a second under -race,
// and an overloaded machine makes timeouts that are not the fault's.
func TestDeliveryUnderFaults(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			logs := newTestLog(t)
			brokers, fault := sc.start(t)
			hubs := startHubs(t, logs, brokers...)
			began := time.Now()
			rep := runChecker(t, logs, hubs, sc.publish, fault)
			sc.hit(t, rep, hubs)
			t.Logf("%s took %v", sc.name, time.Since(began).Round(100*time.Millisecond))
		})
	}
}

func scenarios() []scenario {
	return []scenario{
		pauseScenario(),
		{
			// kill -9, then Redis comes back empty on the same port: the
			// hubs must end the streams of the topics whose history is
			// gone and their resume must be told to resync.
			name:    "KillRestartEmpty",
			publish: span(15*time.Second, 40*time.Second),
			start: func(t *testing.T) ([]string, func(*faultRun)) {
				srv := redistest.Start(t)
				return twice(srv.URL() + timeoutQuery), killRestart(srv)
			},
			hit: func(t *testing.T, rep check.Report, hubs []*testHub) {
				if rep.Resyncs == 0 || sumHubs(hubs, brokerReconnects) == 0 {
					t.Errorf("resyncs %d, broker reconnects %d: want both > 0 after Redis lost its data", rep.Resyncs, sumHubs(hubs, brokerReconnects))
				}
				// Each resync names the new dataset, and the checker
				// verified every one against what the streams saw.
				if n := rep.ResyncReasons["dataset_changed"]; n != rep.Resyncs || rep.ResyncsJustified != rep.Resyncs {
					t.Errorf("resyncs %d, justified %d, by reason %v: want every one justified, for dataset_changed", rep.Resyncs, rep.ResyncsJustified, rep.ResyncReasons)
				}
			},
		},
		{
			// kill -9, then Redis comes back with its append-only file:
			// the streams go on, nothing is lost.
			name:    "KillRestartAOF",
			publish: span(15*time.Second, 40*time.Second),
			start: func(t *testing.T) ([]string, func(*faultRun)) {
				srv := redistest.StartPersistent(t)
				return twice(srv.URL() + timeoutQuery), killRestart(srv)
			},
			hit: func(t *testing.T, rep check.Report, hubs []*testHub) {
				if n := sumHubs(hubs, brokerReconnects); n == 0 {
					t.Errorf("broker reconnects %d: want > 0 after the restart", n)
				}
				if rep.Resyncs > 0 {
					t.Logf("%d resyncs (%d justified, by reason %v) although Redis kept its data", rep.Resyncs, rep.ResyncsJustified, rep.ResyncReasons)
				}
			},
		},
		clientKillScenario("ClientKillPubSub", "pubsub"),
		clientKillScenario("ClientKillNormal", "normal"),
		partitionScenario(),
		clusterFailoverScenario(),
	}
}

// twice returns the broker URL for both hubs.
func twice(url string) []string { return []string{url, url} }

// killRestart kills srv (SIGKILL) at faultAt and restarts it on the same
// port two seconds later.
func killRestart(srv *redistest.Server) func(*faultRun) {
	return func(r *faultRun) {
		r.at(faultAt)
		srv.Kill()
		r.logf("redis killed")
		r.at(faultAt + 2*time.Second)
		srv.Restart()
		r.logf("redis restarted")
	}
}

// clientKillScenario kills the Redis connections of type typ ("pubsub":
// the hubs' subscriber connections; "normal": their command connections)
// a few times while events flow.
func clientKillScenario(name, typ string) scenario {
	kills := 4
	if *longFaults {
		kills = 12
	}
	killed := 0
	return scenario{
		name:    name,
		publish: span(15*time.Second, 40*time.Second),
		start: func(t *testing.T) ([]string, func(*faultRun)) {
			killed = 0
			srv := redistest.Start(t)
			return twice(srv.URL() + timeoutQuery), func(r *faultRun) {
				for i := range kills {
					r.at(faultAt + time.Duration(i)*1500*time.Millisecond)
					n := clientKill(t, srv.MustDo, typ)
					killed += n
					r.logf("CLIENT KILL TYPE %s closed %d connections", typ, n)
				}
			}
		},
		hit: func(t *testing.T, rep check.Report, hubs []*testHub) {
			if killed == 0 {
				t.Errorf("CLIENT KILL TYPE %s closed no connection", typ)
			}
			if n := sumHubs(hubs, brokerReconnects); typ == "pubsub" && n == 0 {
				t.Errorf("broker reconnects %d: want > 0 after the subscriber connections were killed", n)
			}
		},
	}
}

// clusterFailoverScenario kills, in a Redis Cluster of three masters with
// a replica each, the master that holds the stream of the checker's first
// topic, and waits until its replica took over.
func clusterFailoverScenario() scenario {
	var promoted *redistest.Server
	return scenario{
		name:    "ClusterFailover",
		publish: 15 * time.Second,
		start: func(t *testing.T) ([]string, func(*faultRun)) {
			promoted = nil
			c := redistest.StartReplicatedCluster(t)
			return twice(c.URL() + timeoutQuery), func(r *faultRun) {
				r.at(faultAt)
				master := c.MasterFor("ssevents:{" + r.topic(0) + "}")
				for i := range checkTopics {
					if c.MasterFor("ssevents:{"+r.topic(i)+"}") == master {
						r.logf("topic %s is on master %s", r.topic(i), master.Addr())
					}
				}
				master.Kill()
				r.logf("master %s killed", master.Addr())
				promoted = c.WaitFailover(t, master)
				r.logf("replica %s took over", promoted.Addr())
			}
		},
		hit: func(t *testing.T, rep check.Report, hubs []*testHub) {
			if promoted == nil {
				t.Errorf("no failover happened")
			}
			if rep.Retries == 0 || sumHubs(hubs, publishErrors) == 0 {
				t.Errorf("the checker retried %d publishes, the hubs answered %d errors: want both > 0 while the topic's master was down", rep.Retries, sumHubs(hubs, publishErrors))
			}
		},
	}
}

// pauseScenario freezes Redis (SIGSTOP) with publishes in its input
// buffer; they are answered 504 (outcome unknown) when the broker gives
// up, and must not take effect when SIGCONT lets Redis run them late: the
// script's deadline in Redis's clock makes them no-ops, which Redis
// counts as LATE error replies.
func pauseScenario() scenario {
	pause := span(8*time.Second, 20*time.Second)
	var srv *redistest.Server
	return scenario{
		name:    "Pause",
		publish: faultAt + pause + 5*time.Second,
		start: func(t *testing.T) ([]string, func(*faultRun)) {
			srv = redistest.Start(t)
			return twice(srv.URL() + timeoutQuery), func(r *faultRun) {
				r.at(faultAt)
				srv.Pause()
				r.logf("redis paused (SIGSTOP)")
				r.at(faultAt + pause)
				srv.Continue()
				r.logf("redis continued (SIGCONT)")
			}
		},
		hit: func(t *testing.T, rep check.Report, hubs []*testHub) {
			// Counted after the run: by then Redis has surely run what
			// was waiting in its input buffers at SIGCONT.
			late := errorCount(t, srv, "LATE")
			t.Logf("%d publishes ran after their deadline and changed nothing", late)
			if n := sumHubs(hubs, publishErrors); n == 0 || rep.Retries == 0 || late == 0 {
				t.Errorf("hubs answered %d publish errors, the checker retried %d times, %d publishes ran late: want all > 0", n, rep.Retries, late)
			}
		},
	}
}

// partitionScenario cuts hub 2 off Redis: it reaches Redis through a proxy
// that first drops every byte (no RST), then delays every answer by 500
// ms; hub 1 is connected directly and goes on publishing.
func partitionScenario() scenario {
	blackhole := span(6*time.Second, 10*time.Second)
	var delayed time.Duration // a PING's round trip through the slow proxy
	return scenario{
		name:    "Partition",
		publish: faultAt + blackhole + 8*time.Second,
		start: func(t *testing.T) ([]string, func(*faultRun)) {
			delayed = 0
			srv := redistest.Start(t)
			p := faultproxy.Start(t, srv.Addr())
			return []string{srv.URL() + timeoutQuery, "redis://" + p.Addr() + "/0" + timeoutQuery}, func(r *faultRun) {
				r.at(faultAt)
				p.Blackhole()
				r.logf("hub 2 blackholed")
				r.at(faultAt + blackhole)
				p.Heal()
				r.logf("healed")
				r.at(faultAt + blackhole + time.Second)
				p.Latency(500 * time.Millisecond)
				began := time.Now()
				if _, err := redistest.Do(p.Addr(), "PING"); err != nil {
					t.Errorf("PING through the slow proxy: %v", err)
				}
				delayed = time.Since(began)
				r.logf("hub 2 answers delayed by 500ms (a PING took %v)", delayed.Round(time.Millisecond))
				r.at(faultAt + blackhole + 4*time.Second)
				p.Heal()
				r.logf("healed")
			}
		},
		hit: func(t *testing.T, rep check.Report, hubs []*testHub) {
			if n := hubs[1].snapshot().Broker.Reconnects; n == 0 || rep.Retries == 0 {
				t.Errorf("hub 2 reconnected %d times, the checker retried %d publishes: want both > 0", n, rep.Retries)
			}
			if delayed < 500*time.Millisecond {
				t.Errorf("a PING through the proxy took %v in the latency phase, want 500ms or more", delayed)
			}
		},
	}
}
