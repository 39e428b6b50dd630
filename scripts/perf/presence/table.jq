# The table compare.sh prints: one row per figure, Centrifugo's report
# ($c[0]) beside ssevents's ($s[0]); "-" where a report or a figure is
# missing.
def v(f): (try (f | if type == "number" then (. * 100 | round / 100) else . end) catch null) // "-" | tostring;
def row($name; f): "| \($name) | \($c[0] | if . == null then "-" else v(f) end) | \($s[0] | if . == null then "-" else v(f) end) |";
def lat(f): if (f.n // 0) == 0 then "-" else "\(f.p50_ms) / \(f.p99_ms)" end;
"| | Centrifugo | ssevents |",
"|---|---|---|",
row("streams opened (failed)"; "\(.open.opened) (\(.open.failed))"),
row("users, topics, streams on the big topic"; "\(.users), \(.topics), \(.big_topic_streams)"),
row("open: wall ms"; .open.wall_ms),
row("open: server CPU s"; .open.cpu.server.cpu_s),
row("open: redis CPU s"; .open.cpu.redis.cpu_s),
row("counts exact after the last answer, ms"; if .converge.exact then .converge.ms else "not exact: \(.converge.error // .converge.got)" end),
row("join at the watcher during the open, p50 / p99 ms"; lat(.converge.events.latency)),
row("join events missed during the open"; .converge.events.missed),
row("members snapshot of the big topic: members listed"; .members.listed),
row("members snapshot: answer bytes"; .members.bytes),
row("members snapshot: p50 / p99 ms"; lat(.members.latency)),
row("members snapshot: server CPU s for the calls"; .members.cpu.server.cpu_s),
row("counts (presence_stats / limit=0): p50 / p99 ms"; lat(.counts.latency)),
row("steady: seconds"; .steady.seconds),
row("steady: server CPU % of a core"; .steady.cpu.server.cpu_pct_of_one_core),
row("steady: redis CPU % of a core"; .steady.cpu.redis.cpu_pct_of_one_core),
row("server RSS MiB before / open"; "\(.server.rss_before_mb) / \(.server.rss_open_mb)"),
row("redis used_memory before / open, bytes"; "\(.redis.used_memory_before) / \(.redis.used_memory_open)"),
row("redis bytes per stream"; .redis.bytes_per_stream),
row("churn: streams closed then opened, per s"; "\(.churn.streams) at \(.churn.rate_per_s)/s"),
row("churn: counts exact after the last close, ms"; if .churn.leave.exact then .churn.leave.ms else "not exact" end),
row("churn: leave at the watcher, p50 / p99 ms"; lat(.churn.leave.events.latency)),
row("churn: leaves missed"; .churn.leave.events.missed),
row("churn: counts exact after the last open, ms"; if .churn.join.exact then .churn.join.ms else "not exact" end),
row("churn: join at the watcher, p50 / p99 ms"; lat(.churn.join.events.latency)),
row("churn: joins missed"; .churn.join.events.missed),
row("churn: server / redis CPU s"; "\(.churn.cpu.server.cpu_s) / \(.churn.cpu.redis.cpu_s)"),
row("streams the server ended"; .dropped),
row("messages the server says it dropped (Centrifugo: Redis PUB/SUB buffer)"; .server_pubsub_dropped),
row("load average at the start / end (2 cores, shared)"; "\(.load_start) / \(.load_end)"),
row("errors"; (.errors // []) | join("; "))
