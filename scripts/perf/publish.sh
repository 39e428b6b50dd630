#!/usr/bin/env bash
# Publish throughput, side by side, on this machine: the in-memory hub,
# the hub with durable history (SSE_DATA_DIR) at each SSE_FSYNC, and,
# with --mercure, Mercure on its Bolt transport. Every side gets the same
# load from scripts/perf/pubload: P concurrent HTTP publishers (one
# keep-alive connection each, each waiting for its answer before the
# next), K topics round-robin, B-byte events, no subscribers, counting the
# publishes answered 2xx in a D-second window after a W-second warm-up.
# Sides run in alternation (ABC..., then ...CBA, for N rounds), each run on
# a fresh process and a fresh data directory; the Markdown table shows
# medians, and is followed by the exact commands, settings and Caddyfile.
#
#   scripts/perf/publish.sh [--bin BIN] [--mercure BIN] [--sides LIST]
#                           [--rounds N] [--duration D] [--warmup W]
#                           [--publishers P] [--topics K] [--size B]
#                           [--dir DIR] [-- SSE_VAR=value ...]
#
# --bin BIN         the ssevents binary (default: built from the working tree)
# --mercure BIN     a Mercure binary (the Caddy build, `mercure run`); adds
#                   the side "mercure" (Bolt transport, its defaults)
# --sides LIST      comma-separated, in run order (default: mem,always,
#                   interval,off and mercure when --mercure is given):
#                   mem       ssevents serve, embedded broker, in memory
#                   always    ... with SSE_DATA_DIR and SSE_FSYNC=always
#                   interval  ... with SSE_DATA_DIR and SSE_FSYNC=interval
#                   off       ... with SSE_DATA_DIR and SSE_FSYNC=off
#                   mercure   Mercure, transport bolt
# --rounds N        rounds (default 3)
# --duration D      measured seconds per run (default 10)
# --warmup W        seconds of publishing before the window (default 2)
# --publishers P    concurrent publishers (default 64)
# --topics K        topics (default 10)
# --size B          bytes of data per event (default 1024)
# --dir DIR         where the data directories are made (default: a new
#                   directory under ${TMPDIR:-/tmp}); its filesystem is
#                   printed, since fsync costs what the disk makes it cost
# after --           extra settings for every ssevents side
#
# Both hubs check an HS256 JWT on every publish (ssevents:
# SSE_JWT_SECRET and a token from `ssevents token --publish '*'`;
# Mercure: publisher_jwt), so both do the same work per request. A
# durable side whose data directory holds less than 10 events' bytes
# after its run did not write history (a build without SSE_DATA_DIR); the
# table marks it.
#
# A Mercure binary, built outside this repository (none of it is
# committed), from the Caddy build of Mercure 0.24.2, the last 0.24.x the
# Go module proxy serves here. Its caddy module asks for a pseudo-version
# of golang.org/x/crypto/x509roots/fallback that the proxy does not serve;
# Caddy v2.11.9 requires a later one, which it does:
#
#   mkdir /tmp/mercure-build && cd /tmp/mercure-build && go mod init mercurebuild
#   GOFLAGS=-mod=mod go get github.com/dunglas/mercure/caddy@v0.24.2 \
#       github.com/caddyserver/caddy/v2@v2.11.9
#   GOFLAGS=-mod=mod go build -o mercure github.com/dunglas/mercure/caddy/mercure
#   cd - && scripts/perf/publish.sh --mercure /tmp/mercure-build/mercure
#
# Needs: go (to build pubload, and ssevents unless --bin), curl, python3.
# Only loopback addresses are used. Load generator and hubs share the
# machine's cores: compare sides of one run, not runs of different days.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
die() { echo "publish.sh: $*" >&2; exit 1; }
log() { echo "publish.sh: $*" >&2; }
# shellcheck source=../../deploy/local/lib/free-port.sh
. "$repo/deploy/local/lib/free-port.sh"

bin="" mercure="" sides="" rounds=3 duration=10 warmup=2 publishers=64 topics=10 size=1024 dir="" extra=()
args_given=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	--bin) bin=$2; shift 2 ;;
	--mercure) mercure=$2; shift 2 ;;
	--sides) sides=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--warmup) warmup=$2; shift 2 ;;
	--publishers) publishers=$2; shift 2 ;;
	--topics) topics=$2; shift 2 ;;
	--size) size=$2; shift 2 ;;
	--dir) dir=$2; shift 2 ;;
	-h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "${BASH_SOURCE[0]}"; exit 0 ;;
	--) shift; extra=("$@"); break ;;
	*) die "unknown argument $1 (try --help)" ;;
	esac
done
if [ -z "$sides" ]; then
	sides=mem,always,interval,off
	[ -z "$mercure" ] || sides=$sides,mercure
fi
IFS=, read -r -a side_list <<<"$sides"
for s in "${side_list[@]}"; do
	case "$s" in
	mem | always | interval | off) ;;
	mercure) [ -n "$mercure" ] || die "side mercure needs --mercure BIN" ;;
	*) die "unknown side $s" ;;
	esac
done
for t in curl python3; do command -v "$t" >/dev/null || die "$t is needed"; done
[ -z "$mercure" ] || [ -x "$mercure" ] || die "--mercure $mercure: not an executable"

work=$(mktemp -d)
dir=$(mktemp -d "${dir:-${TMPDIR:-/tmp}}/publish-data.XXXXXX")
hub=""
stop_hub() {
	[ -n "$hub" ] || return 0
	kill -TERM "$hub" 2>/dev/null || true
	wait "$hub" 2>/dev/null || true
	hub=""
}
trap 'stop_hub; rm -rf "$work" "$dir"' EXIT
(cd "$repo" && go build -o "$work/pubload" ./scripts/perf/pubload)
if [ -z "$bin" ]; then
	(cd "$repo" && go build -o "$work/ssevents" ./cmd/ssevents)
	bin=$work/ssevents
	version="ssevents built from $(git -C "$repo" describe --always --dirty 2>/dev/null || echo "the working tree")"
else
	version="ssevents $bin"
fi
ulimit -n "$(ulimit -Hn)"
mercure_version=""
if [ -n "$mercure" ]; then # the module versions it was built from
	mercure_version="$(go version -m "$mercure" 2>/dev/null | awk '$2 == "github.com/dunglas/mercure" {print $3}') (Caddy $("$mercure" version 2>/dev/null | cut -d' ' -f1))"
fi

# One secret for both hubs; 32 random bytes, hex.
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
token=$(SSE_JWT_SECRET=$secret "$bin" token --publish '*' --ttl 6h)

wait_ready() { # wait_ready URL: until URL answers 200, at most 20 s
	local end=$((SECONDS + 20))
	until [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)" = 200 ]; do
		kill -0 "$hub" 2>/dev/null || die "the hub exited; its log: $(tail -5 "$work/hub.log")"
		[ $SECONDS -lt $end ] || die "timed out waiting for $1"
		sleep 0.1
	done
}

# caddyfile PORT DB: Mercure's configuration for a run. No access log
# (ssevents writes none either), plain HTTP on loopback, Bolt at DB with
# its defaults (size 0: history never trimmed; cleanup_frequency 0.3).
caddyfile() {
	cat <<EOF
{
	admin off
	auto_https off
	persist_config off
}

http://127.0.0.1:$1 {
	mercure {
		publisher_jwt {env.MERCURE_PUBLISHER_JWT_KEY} HS256
		subscriber_jwt {env.MERCURE_SUBSCRIBER_JWT_KEY} HS256
		transport bolt {
			path $2
		}
	}
	respond /healthz 200
}
EOF
}

# start SIDE RUNDIR: starts the side's hub on a free port; sets hub, port,
# url, load (pubload's API flags) and data (the directory its history goes
# to).
start() {
	local side=$1 rd=$2
	port=$(free_port)
	mkdir -p "$rd"
	data=""
	case "$side" in
	mercure)
		data=$rd/bolt
		mkdir -p "$data"
		caddyfile "$port" "$data/mercure.db" >"$rd/Caddyfile"
		env -i PATH="$PATH" HOME="$rd" XDG_DATA_HOME="$rd/xdg-data" XDG_CONFIG_HOME="$rd/xdg-config" \
			MERCURE_PUBLISHER_JWT_KEY="$secret" MERCURE_SUBSCRIBER_JWT_KEY="$secret" \
			"$mercure" run --config "$rd/Caddyfile" --adapter caddyfile >"$work/hub.log" 2>&1 &
		hub=$!
		wait_ready "http://127.0.0.1:$port/healthz"
		url=http://127.0.0.1:$port/.well-known/mercure
		load=(--api mercure --mercure-key "$secret")
		;;
	*)
		local env=(SSE_ADDR="127.0.0.1:$port" SSE_JWT_SECRET="$secret")
		if [ "$side" != mem ]; then
			data=$rd/data
			env+=(SSE_DATA_DIR="$data" SSE_FSYNC="$side")
		fi
		env -i PATH="$PATH" "${env[@]}" "${extra[@]}" "$bin" serve >"$work/hub.log" 2>&1 &
		hub=$!
		wait_ready "http://127.0.0.1:$port/health/live"
		url=http://127.0.0.1:$port/publish
		load=(--api ssevents --token "$token")
		;;
	esac
}

# cpu_ticks PID: the process's user+system time, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
fs_type=$(df -PT "$dir" | awk 'NR == 2 {print $2}')
# What one fsync of a 1 KB append costs there, the bound of any side that
# fsyncs each publish on its own: median and p99 of 200, in ms.
fsync_ms=$(python3 - "$dir/fsync-probe" <<'EOF'
import os, statistics, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
took = []
for _ in range(200):
    t = time.perf_counter()
    os.write(fd, b"x" * 1024)
    os.fsync(fd)
    took.append((time.perf_counter() - t) * 1000)
os.close(fd)
os.unlink(sys.argv[1])
took.sort()
print("%.2f ms median, %.2f ms p99" % (statistics.median(took), took[int(0.99 * (len(took) - 1))]))
EOF
)

log "sides ${side_list[*]}, $rounds rounds of ${duration}s (+${warmup}s warm-up), data under $dir ($fs_type)"
echo "# runs: side round per_second ok refused failed p50_ms p99_ms hub_cpu_cores hub_peak_rss_kb data_files data_bytes publishes_per_fsync" >"$work/runs"
loadavg_before=$(cut -d' ' -f1-3 /proc/loadavg)
run=0
for round in $(seq "$rounds"); do
	order=("${side_list[@]}")
	if [ $((round % 2)) -eq 0 ]; then # ABC, CBA, ABC ...
		order=()
		for ((i = ${#side_list[@]} - 1; i >= 0; i--)); do order+=("${side_list[i]}"); done
	fi
	for side in "${order[@]}"; do
		run=$((run + 1))
		rd=$dir/run$run-$side
		start "$side" "$rd"
		c0=$(cpu_ticks "$hub")
		"$work/pubload" "${load[@]}" --url "$url" --publishers "$publishers" --topics "$topics" \
			--size "$size" --warmup "${warmup}s" --duration "${duration}s" >"$work/out.json"
		c1=$(cpu_ticks "$hub")
		# The hub's own counts: how many publishes shared an fsync.
		echo '{}' >"$work/metrics.json"
		[ "$side" = mercure ] || curl -s "http://127.0.0.1:$port/metrics" >"$work/metrics.json" || true
		rss=$(awk '/^VmHWM/ {print $2}' "/proc/$hub/status")
		stop_hub
		files=- bytes=-
		if [ -n "$data" ]; then
			files=0 bytes=0
			if [ -d "$data" ]; then
				files=$(find "$data" -type f | wc -l)
				bytes=$(du -sb "$data" | cut -f1)
			fi
		fi
		python3 - "$work/out.json" "$work/metrics.json" "$side" "$round" "$((c1 - c0))" "$hz" "$((warmup + duration))" "$rss" "$files" "$bytes" \
			>>"$work/runs" <<'EOF'
import json, sys
out, metrics, side, rnd, ticks, hz, secs, rss, files, size = sys.argv[1:]
r = json.load(open(out))
try:
    m = json.load(open(metrics))
    per_fsync = "%.1f" % (m["messages"]["published"] / m["broker"]["fsyncs"])
except (ValueError, KeyError, TypeError, ZeroDivisionError):
    per_fsync = "-"
cores = int(ticks) / int(hz) / float(secs)
print(side, rnd, "%.0f" % r["per_second"], r["ok"], r["refused"], r["failed"],
      "%.2f" % r["p50_ms"], "%.2f" % r["p99_ms"], "%.2f" % cores, rss, files, size, per_fsync)
EOF
		log "round $round $side: $(tail -1 "$work/runs" | cut -d' ' -f3) acknowledged publishes/s"
		rm -rf "$rd"
	done
done
loadavg_after=$(cut -d' ' -f1-3 /proc/loadavg)

# The table: medians over the rounds, min-max beside them.
python3 - "$work/runs" "$sides" "$size" <<'EOF'
import statistics, sys
order = sys.argv[2].split(",")
size = int(sys.argv[3])
runs = {}
for line in open(sys.argv[1]):
    if line.startswith("#"):
        continue
    f = line.split()
    runs.setdefault(f[0], []).append(f[1:])
how = {
    "mem": "`ssevents serve`, in memory",
    "always": "`SSE_DATA_DIR` + `SSE_FSYNC=always`",
    "interval": "`SSE_DATA_DIR` + `SSE_FSYNC=interval`",
    "off": "`SSE_DATA_DIR` + `SSE_FSYNC=off`",
    "mercure": "Mercure, `transport bolt`",
}
def col(side, i):
    return [float(r[i]) for r in runs[side]]
med = {s: statistics.median(col(s, 1)) for s in order}
print("| side | acknowledged publishes/s, median (min-max) | vs in-memory | vs Mercure | p50 / p99 ms | refused / failed | hub CPU, cores | hub peak RSS, MB | data dir after a run | publishes per fsync |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for s in order:
    ps = col(s, 1)
    vs_mem = "%.0f%%" % (100 * med[s] / med["mem"]) if "mem" in med and med["mem"] else "-"
    vs_m = "%.1fx" % (med[s] / med["mercure"]) if "mercure" in med and med["mercure"] and s != "mercure" else "-"
    refused = int(sum(col(s, 3))); failed = int(sum(col(s, 4)))
    files = [r[9] for r in runs[s]]
    if files[0] == "-":
        data = "-"
    elif all(float(r[10]) < 10 * size for r in runs[s]):
        data = "**no history written (this build has no SSE_DATA_DIR)**"
    else:
        data = "%d files, %.1f MB" % (statistics.median(int(f) for f in files), statistics.median(col(s, 10)) / 1e6)
    fsyncs = [float(r[11]) for r in runs[s] if r[11] != "-"]
    per_fsync = "%.1f" % statistics.median(fsyncs) if fsyncs else "-"
    print("| %s | %s (%s-%s) | %s | %s | %.1f / %.1f | %d / %d | %.2f | %.0f | %s | %s |" % (
        how[s], "{:,.0f}".format(med[s]), "{:,.0f}".format(min(ps)), "{:,.0f}".format(max(ps)),
        vs_mem, vs_m, statistics.median(col(s, 5)), statistics.median(col(s, 6)),
        refused, failed, statistics.median(col(s, 7)), statistics.median(col(s, 8)) / 1024, data, per_fsync))
EOF

cat <<EOF

Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores (load average $loadavg_before before, $loadavg_after after),
$version${mercure:+, Mercure $mercure_version},
data directories on $fs_type (a 1 KB append + fsync there: $fsync_ms). Rounds: $rounds, sides alternating (${side_list[*]}, then reversed), each run a fresh process
and an empty data directory.

Command: \`scripts/perf/publish.sh${args_given[*]:+ ${args_given[*]}}\`

Load, the same for every side: \`pubload --api ssevents|mercure --url URL --publishers $publishers --topics $topics --size $size --warmup ${warmup}s --duration ${duration}s\`
(scripts/perf/pubload: $publishers publishers, one keep-alive HTTP/1.1 connection each, each waiting for its answer;
topics bench-0 ... bench-$((topics - 1)) round-robin; no subscribers; 2xx answers within the ${duration} s window counted).

ssevents sides: \`env -i PATH=... SSE_ADDR=127.0.0.1:PORT SSE_JWT_SECRET=S [SSE_DATA_DIR=DIR SSE_FSYNC=always|interval|off]${extra[*]:+ ${extra[*]}} ssevents serve\`,
each publish \`POST /publish\` with \`{"topic","event":"bench","data":"<$size bytes>"}\` and \`Authorization: Bearer\` a token from \`ssevents token --publish '*'\`.
EOF
if [ -n "$mercure" ]; then
	cat <<EOF

Mercure side: \`env -i PATH=... HOME=RUNDIR XDG_DATA_HOME=RUNDIR/xdg-data XDG_CONFIG_HOME=RUNDIR/xdg-config MERCURE_PUBLISHER_JWT_KEY=S MERCURE_SUBSCRIBER_JWT_KEY=S $mercure run --config RUNDIR/Caddyfile --adapter caddyfile\`,
each publish \`POST /.well-known/mercure\` with the form fields topic and data ($size bytes) and \`Authorization: Bearer\` an HS256 JWT with \`{"mercure":{"publish":["*"]}}\`. The Caddyfile (PORT and RUNDIR filled in per run):

\`\`\`
$(caddyfile PORT RUNDIR/bolt/mercure.db)
\`\`\`
EOF
fi
echo
echo "Runs (side, round, acknowledged/s, ok, refused, failed, p50 ms, p99 ms, hub CPU cores, hub peak RSS KB, data files, data bytes, publishes per fsync):"
echo
echo '```'
grep -v '^#' "$work/runs"
echo '```'
