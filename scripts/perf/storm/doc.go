// Command storm is the load program of scripts/perf/storm.sh: the
// reconnect storm of issue 17. It starts one hub (or two on one Redis),
// opens N EventSource-like streams spread over T topics, publishes, then
// restarts one hub (SIGTERM or SIGKILL) on the same address with the same
// settings, publishes M missed events per topic as soon as it listens
// again, and lets every stream of that hub come back after its `retry:`
// with its Last-Event-ID, all at once. It reports how long until every
// stream has all it missed, the hub's CPU and peak RSS during the storm,
// /health/live's answers meanwhile, non-200 answers, reconnect attempts,
// and checks every stream's events: ids strictly increasing, none twice,
// none lost unless a resync covers it, none that was not published.
//
// Run it through scripts/perf/storm.sh, which builds the hub, raises the
// open-file limit, picks free ports and starts redis-server. It exits 1
// when the check finds a violation or a stream never caught up, 2 when
// the run itself failed.
package main
