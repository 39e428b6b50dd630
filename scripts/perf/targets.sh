#!/usr/bin/env bash
# Measure the hub's performance targets for two builds side by side, on
# this machine, and print a Markdown table of medians with the exact
# commands used.
#
#   scripts/perf/targets.sh [--before BIN] [--after BIN] [--before-rev REV]
#                           [--bench BIN] [--rounds N] [--quick]
#                           [--loads LIST] [--no-profile] [--out DIR]
#
# --before BIN, --after BIN  the two ssevents binaries to compare. Default:
#                       --before is REV (--before-rev, default HEAD~1) built
#                       from `git archive` in a temporary directory, --after
#                       is the working tree's ./cmd/ssevents.
# --bench BIN           the binary that runs `ssevents bench` (the load
#                       generator), the same for both sides. Default: --after.
# --rounds N            rounds of before/after, alternating (ABAB...).
#                       Default 2; the table shows the median of the rounds.
# --quick               short durations and 1 round, to check that the script
#                       works; its figures are not the targets' figures.
# --loads LIST          comma-separated loads to run (default all):
#                       idle10k, idle19k, lat1k, lat5k, lat10k, flood1k.
# --no-profile          skip the CPU profiles of the lat5k load.
# --out DIR             where to keep each run's JSON report, logs and
#                       profiles (default: a new directory under /tmp).
# --before-env, --after-env 'VAR=value ...'
#                       settings for that side's hubs, e.g. --after-env
#                       'SSE_DATA_DIR=@fresh' to compare the durable history
#                       with the in-memory one (the same binary on both
#                       sides); @fresh is a new empty directory per hub.
#
# Each run starts a fresh `ssevents serve` with default settings (only
# SSE_ADDR, a free loopback port; SSE_* variables of the caller are removed)
# and the embedded broker, runs `ssevents bench ... --json` against it, and
# stops it. The hub has no profiling endpoint, so the CPU profile of the
# lat5k load is sampled with `perf record -g -p PID` during the publish
# phase, in one extra run per binary after the measured rounds.
#
# Needs: go (unless both binaries are given), git, curl, jq; perf for the
# profile (apt-get install -y linux-perf), else the profile is skipped.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

before="" after="" bench="" before_rev=HEAD~1 rounds="" quick=false profile=true out=""
declare -A side_env=([before]="" [after]="")
loads_wanted="idle10k,idle19k,lat1k,lat5k,lat10k,flood1k"

usage() { sed -n '2,35p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { printf 'targets.sh: %s\n' "$*" >&2; exit 1; }
log() { printf 'targets.sh: %s\n' "$*" >&2; }
while [ $# -gt 0 ]; do
	case "$1" in
	--before) before=$2; shift ;;
	--after) after=$2; shift ;;
	--before-rev) before_rev=$2; shift ;;
	--bench) bench=$2; shift ;;
	--rounds) rounds=$2; shift ;;
	--quick) quick=true ;;
	--loads) loads_wanted=$2; shift ;;
	--no-profile) profile=false ;;
	--out) out=$2; shift ;;
	--before-env) side_env[before]=$2; shift ;;
	--after-env) side_env[after]=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) printf 'targets.sh: unknown argument %s (try --help)\n' "$1" >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$rounds" ]; then
	rounds=2
	$quick && rounds=1
fi
case "$rounds" in '' | *[!0-9]* | 0) printf 'targets.sh: --rounds wants a number of at least 1\n' >&2; exit 2 ;; esac
for t in curl jq git; do
	command -v "$t" >/dev/null || die "$t is missing (apt-get install -y $t)"
done

# --- the loads ---------------------------------------------------------
# Durations: the idle loads only need the connect phase (the hub's memory
# is read when every stream is open, before publishing); the others publish
# long enough for a stable p99 while a full run stays under 25 minutes.
if $quick; then
	idle_d=1s load_d=3s
else
	idle_d=3s load_d=15s
fi
declare -A load_args=(
	[idle10k]="--conns 10000 --topics 100 --rate 10 --duration $idle_d"
	[idle19k]="--conns 19000 --topics 100 --rate 10 --duration $idle_d"
	[lat1k]="--conns 1000 --topics 1 --rate 10 --duration $load_d"
	[lat5k]="--conns 5000 --topics 1 --rate 20 --duration $load_d"
	[lat10k]="--conns 10000 --topics 1000 --rate 500 --duration $load_d"
	[flood1k]="--conns 1000 --topics 1 --publishers 8 --rate 0 --duration $load_d"
)
all_loads=(idle10k idle19k lat1k lat5k lat10k flood1k)
loads=()
IFS=, read -r -a wanted <<<"$loads_wanted"
for l in "${all_loads[@]}"; do
	for w in "${wanted[@]}"; do
		if [ "$w" = "$l" ]; then loads+=("$l"); fi
	done
done
for w in "${wanted[@]}"; do
	[ -n "${load_args[$w]+x}" ] || { printf 'targets.sh: unknown load %s (known: %s)\n' "$w" "${all_loads[*]}" >&2; exit 2; }
done
[ ${#loads[@]} -gt 0 ] || { printf 'targets.sh: --loads names no load\n' >&2; exit 2; }

# --- binaries ----------------------------------------------------------
[ -n "$out" ] || out=$(mktemp -d /tmp/ssevents-perf.XXXXXX)
mkdir -p "$out"/{runs,bin}
out=$(cd "$out" && pwd)
if [ -z "$before" ]; then
	rev=$(git -C "$repo" rev-parse --verify "$before_rev^{commit}") || die "no commit $before_rev"
	src="$out/src-before"
	rm -rf "$src" && mkdir -p "$src"
	log "building --before from $before_rev (${rev:0:12}) into $out/bin/ssevents-before"
	git -C "$repo" archive --format=tar "$rev" | tar -x -C "$src"
	(cd "$src" && go build -o "$out/bin/ssevents-before" ./cmd/ssevents)
	before="$out/bin/ssevents-before"
	before_desc="$before_rev (${rev:0:12})"
else
	before_desc="$before"
fi
if [ -z "$after" ]; then
	log "building --after from the working tree into $out/bin/ssevents-after"
	(cd "$repo" && go build -o "$out/bin/ssevents-after" ./cmd/ssevents)
	after="$out/bin/ssevents-after"
	after_desc="working tree of $repo ($(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD 2>/dev/null || echo ', with changes'))"
else
	after_desc="$after"
fi
[ -n "$bench" ] || bench=$after
for b in "$before" "$after" "$bench"; do
	[ -x "$b" ] || die "$b is not an executable"
done
before=$(realpath "$before") after=$(realpath "$after") bench=$(realpath "$bench")
declare -A bin_of=([before]=$before [after]=$after)

# The load generator holds one descriptor per stream (in worker processes
# of at most 15,000 streams each); the hub keeps the limit it inherits, on
# which its default SSE_MAX_CONNECTIONS depends.
hub_nofile=$(ulimit -n)

# --- processes ---------------------------------------------------------
# The hub and the background bench running now, if any, are stopped on
# exit (by their pids, which are cleared once they have been waited for).
hub_pid="" bench_pid=""
cleanup() {
	local p
	for p in $hub_pid $bench_pid; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port: a loopback TCP port nobody listens on, below the ephemeral range.
# shellcheck source=deploy/local/lib/free-port.sh
. "$repo/deploy/local/lib/free-port.sh"

# Each run dials its streams from its own loopback source addresses (one
# per 10,000 streams), rotating through 127.0.0.2-251: the closed
# connections of one run wait in TIME_WAIT for a minute on their source
# ports, which would leave a next run on the same addresses short of ports.
# source_addrs CONNS sets src to the next addresses.
next_src=2 src=""
source_addrs() {
	local n i
	n=$((($1 + 9999) / 10000))
	src=""
	for ((i = 0; i < n; i++)); do
		src+="${src:+,}127.0.0.$next_src"
		next_src=$((next_src + 1))
		if [ "$next_src" -gt 251 ]; then next_src=2; fi
	done
}

# serve_env prints the env arguments that clear the caller's SSE_*
# variables: the hub runs with default settings.
serve_env() {
	local v
	for v in $(compgen -e | grep '^SSE_' || true); do
		printf -- '-u %s ' "$v"
	done
}

# extra_env SIDE prints that side's settings (--before-env, --after-env),
# with @fresh replaced by a new empty directory.
extra_env() {
	local kv
	for kv in ${side_env[$1]}; do
		if [ "${kv#*=}" = @fresh ]; then
			kv="${kv%%=*}=$(mktemp -d "${TMPDIR:-/tmp}/targets-data.XXXXXX")"
		fi
		printf '%s ' "$kv"
	done
}

hub_port=""
# start_hub BIN LOG [SIDE]: starts a hub on a free port, with SIDE's
# settings; sets hub_pid, hub_port.
start_hub() {
	local bin=$1 logf=$2 side=${3:-}
	hub_port=$(free_port)
	local extra=""
	[ -n "$side" ] && extra=$(extra_env "$side")
	# shellcheck disable=SC2046,SC2086
	env $(serve_env) $extra SSE_ADDR="127.0.0.1:$hub_port" "$bin" serve </dev/null >"$logf" 2>&1 &
	hub_pid=$!
	for _ in $(seq 100); do
		curl -fsS "http://127.0.0.1:$hub_port/health/ready" >/dev/null 2>&1 && return 0
		kill -0 "$hub_pid" 2>/dev/null || { log "hub exited; see $logf"; return 1; }
		sleep 0.1
	done
	log "hub did not get ready in 10 s; see $logf"
	return 1
}

stop_hub() {
	[ -n "$hub_pid" ] || return 0
	kill -TERM "$hub_pid" 2>/dev/null || true
	wait "$hub_pid" 2>/dev/null || true
	hub_pid=""
}

# run_load LOAD SIDE ROUND: one measured run; its report is
# runs/LOAD.SIDE.ROUND.json, its commands are appended to commands.txt.
run_load() {
	local load=$1 side=$2 round=$3 base conns cmd rc
	base="$out/runs/$load.$side.$round"
	start_hub "${bin_of[$side]}" "$base.serve.log" "$side" || { : >"$base.json"; stop_hub; return 0; }
	conns=$(sed -n 's/.*--conns \([0-9]*\).*/\1/p' <<<"${load_args[$load]}")
	source_addrs "$conns"
	cmd="$bench bench --url http://127.0.0.1:$hub_port --server-pid $hub_pid --source-addrs $src ${load_args[$load]} --json"
	{
		echo "# $load, $side, round $round (load average $(cut -d' ' -f1-3 /proc/loadavg))"
		echo "${side_env[$side]:+${side_env[$side]} }SSE_ADDR=127.0.0.1:$hub_port ${bin_of[$side]} serve   # pid $hub_pid, ulimit -n $hub_nofile"
		echo "$cmd"
	} >>"$out/commands.txt"
	log "$load $side round $round: $conns streams on :$hub_port"
	rc=0
	# shellcheck disable=SC2086
	$cmd >"$base.json" 2>"$base.bench.log" || rc=$?
	[ "$rc" -eq 0 ] || log "$load $side round $round: bench exited $rc; see $base.bench.log"
	stop_hub
	sleep 1
}

# --- measured rounds: before, after, before, after, ... ------------------
: >"$out/commands.txt"
started_at=$(date -u +%FT%TZ)
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$SECONDS
for load in "${loads[@]}"; do
	for ((r = 1; r <= rounds; r++)); do
		run_load "$load" before "$r"
		run_load "$load" after "$r"
	done
done

# --- CPU profiles --------------------------------------------------------
profile_note=""
profile_top() { # perf.data file -> its sample count and top 10 symbols by self time
	local report
	report=$(perf report -i "$1" --stdio --no-children -g none --sort symbol 2>/dev/null) || return 0
	grep -m1 '^# Samples' <<<"$report" | sed 's/^# //'
	# Rows are "  6.76%  [k] symbol   IPC [IPC Coverage]"; keep the first two columns.
	grep -v '^#' <<<"$report" | grep '%' | head -10 | sed 's/^ *//; s/ *\(-  *-\)\{0,1\} *$//'
}
if $profile && [[ " ${loads[*]} " == *" lat5k "* ]]; then
	if ! command -v perf >/dev/null || ! perf record -q -o /dev/null -- true >/dev/null 2>&1; then
		profile_note="skipped: the hub has no profiling endpoint and perf is missing or not allowed (apt-get install -y linux-perf; kernel.perf_event_paranoid)"
	else
		for side in before after; do
			base="$out/runs/lat5k.$side.profile"
			start_hub "${bin_of[$side]}" "$base.serve.log" "$side" || continue
			source_addrs 5000
			cmd="$bench bench --url http://127.0.0.1:$hub_port --server-pid $hub_pid --source-addrs $src ${load_args[lat5k]} --json"
			{
				echo "# lat5k, $side, CPU profile"
				echo "${side_env[$side]:+${side_env[$side]} }SSE_ADDR=127.0.0.1:$hub_port ${bin_of[$side]} serve   # pid $hub_pid"
				echo "$cmd"
			} >>"$out/commands.txt"
			log "lat5k $side: CPU profile"
			# shellcheck disable=SC2086
			$cmd >"$base.json" 2>"$base.bench.log" &
			bench_pid=$!
			# Sample the hub during the publish phase only: from the
			# bench's first "publish" progress line, for the duration
			# less the second that line took to come.
			for _ in $(seq 1200); do
				grep -q '^bench: publish' "$base.bench.log" 2>/dev/null && break
				kill -0 "$bench_pid" 2>/dev/null || break
				sleep 0.1
			done
			secs=${load_d%s}
			secs=$((secs > 2 ? secs - 2 : 1))
			echo "perf record -F 999 -g -p $hub_pid -o $base.perf.data -- sleep $secs" >>"$out/commands.txt"
			perf record -q -F 999 -g -p "$hub_pid" -o "$base.perf.data" -- sleep "$secs" >"$base.perf.log" 2>&1 || true
			wait "$bench_pid" 2>/dev/null || true
			bench_pid=""
			stop_hub
			echo "perf report -i $base.perf.data --stdio --no-children -g none --sort symbol" >>"$out/commands.txt"
			profile_top "$base.perf.data" >"$base.top.txt" || true
			sleep 1
		done
	fi
elif $profile; then
	profile_note="skipped: the lat5k load was not run"
else
	profile_note="skipped (--no-profile)"
fi

# --- the table -----------------------------------------------------------
# field LOAD SIDE EXPR: one value per round of the jq expression EXPR over
# the run reports that exist (a failed run has an empty report).
field() {
	local f
	for f in "$out"/runs/"$1"."$2".[0-9]*.json; do
		if [ -s "$f" ]; then jq -r "$3 // empty" "$f"; fi
	done
	return 0
}
median() {
	sort -g | awk '{a[NR] = $1} END { if (NR == 0) exit; if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
# values LOAD SIDE EXPR: the rounds' values, comma-separated.
values() { field "$@" | paste -sd, | sed 's/,/, /g'; }
med() { field "$@" | median; }
num() { LC_ALL=C awk -v v="$1" -v d="${2:-0}" 'BEGIN { if (v == "") { print "n/a"; exit }; s = sprintf("%." d "f", v); n = split(s, p, "."); i = p[1]; o = ""; neg = (i ~ /^-/); if (neg) i = substr(i, 2); while (length(i) > 3) { o = "," substr(i, length(i) - 2) o; i = substr(i, 1, length(i) - 3) }; o = (neg ? "-" : "") i o; if (n > 1) o = o "." p[2]; print o }'; }

cell() { # cell LOAD SIDE KIND
	local load=$1 side=$2 kind=$3 v lost failed conns
	case "$kind" in
	rss)
		v=$(med "$load" "$side" .server_rss_per_conn_bytes)
		[ -n "$v" ] || { echo "n/a"; return; }
		echo "$(num "$(awk -v v="$v" 'BEGIN { print v / 1000 }')" 1) KB ($(num "$(awk -v v="$v" 'BEGIN { print v / 1024 }')" 1) KiB)"
		;;
	streams)
		v=$(med "$load" "$side" .connected)
		conns=$(med "$load" "$side" .conns)
		failed=$(med "$load" "$side" .connect_failed)
		[ -n "$v" ] || { echo "n/a"; return; }
		echo "$(num "$v") of $(num "$conns") ($(num "$failed") failed)"
		;;
	p99)
		v=$(med "$load" "$side" .latency_p99_ms)
		lost=$(med "$load" "$side" .lost)
		[ -n "$v" ] || { echo "n/a"; return; }
		echo "p99 $(num "$v" 2) ms (p50 $(num "$(med "$load" "$side" .latency_p50_ms)" 2) ms, $(num "$lost") lost)"
		;;
	flood)
		v=$(med "$load" "$side" .deliveries_per_sec)
		lost=$(med "$load" "$side" .lost)
		[ -n "$v" ] || { echo "n/a"; return; }
		echo "$(num "$v")/s, $(num "$lost") lost"
		;;
	esac
}

# The table's rows: load name, what is reported, target, kind of cell.
rows=(
	"idle10k|RSS per idle stream, 10,000 streams|<= 4 KB|rss|.server_rss_per_conn_bytes"
	"idle19k|RSS per idle stream, 19,000 streams|<= 4 KB|rss|.server_rss_per_conn_bytes"
	"idle19k|streams per instance, default settings (19,000 tried)|19,000|streams|.connected"
	"lat1k|1,000 streams, 1 topic, 10 events/s: p99|<= 6 ms|p99|.latency_p99_ms"
	"lat5k|5,000 streams, 1 topic, 20 events/s: p99|<= 40 ms|p99|.latency_p99_ms"
	"lat10k|10,000 streams, 1,000 topics, 500 events/s: p99|<= 1 ms|p99|.latency_p99_ms"
	"flood1k|1,000 streams, 1 topic, 8 publishers as fast as possible: deliveries/s, lost|>= 400,000/s, 0 lost|flood|.deliveries_per_sec"
)

echo "## Performance targets: before and after"
echo
echo "- before: \`$before\` ($before_desc)"
echo "- after: \`$after\` ($after_desc)"
echo "- load generator: \`$bench bench\`; hub open-file limit $hub_nofile; $(nproc) cores; started $started_at, took $(((SECONDS - t0) / 60)) min; load average $load_at_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (other work on the machine shifts absolute figures; the rounds alternate so that before and after share it)"
echo "- $rounds round(s), before and after alternating; each cell is the median of the rounds$($quick && echo '; --quick: short durations, not the targets'"'"' figures')"
echo "- reports, logs and profiles: $out"
echo
echo "| load | before | after | target |"
echo "|---|---|---|---|"
for row in "${rows[@]}"; do
	IFS='|' read -r load what target kind _ <<<"$row"
	[[ " ${loads[*]} " == *" $load "* ]] || continue
	echo "| $what | $(cell "$load" before "$kind") | $(cell "$load" after "$kind") | $target |"
done
echo
echo "Each round's value (before; after):"
echo
for row in "${rows[@]}"; do
	IFS='|' read -r load what _ _ expr <<<"$row"
	[[ " ${loads[*]} " == *" $load "* ]] || continue
	echo "- $what (\`$expr\`): $(values "$load" before "$expr"); $(values "$load" after "$expr")"
done
problems=$(for f in "$out"/runs/*.[0-9]*.json; do
	if [ ! -s "$f" ]; then
		echo "- $(basename "$f" .json): no report (see $(basename "$f" .json).bench.log / .serve.log)"
	else
		jq -r --arg n "$(basename "$f" .json)" '
			[(if .connect_failed > 0 then "\(.connect_failed) streams failed to connect" else empty end),
			 (if .publish_errors > 0 then "\(.publish_errors) publish errors (\(.last_publish_error // ""))" else empty end),
			 (if .server_rss_note then "server RSS: \(.server_rss_note)" else empty end),
			 (.errors // [])[]] | select(length > 0) | "- \($n): " + join("; ")' "$f"
	fi
done)
if [ -n "$problems" ]; then
	echo
	echo "Runs that reported problems:"
	echo
	echo "$problems"
fi

echo
echo "### CPU profile of the hub, 5,000 streams, 1 topic, 20 events/s"
echo
if [ -n "$profile_note" ]; then
	echo "Profile $profile_note."
else
	echo "The hub has no profiling endpoint (no pprof); sampled with \`perf record -F 999 -g -p PID\` during the publish phase. Top 10 symbols by self time:"
	for side in before after; do
		echo
		echo "$side:"
		echo
		echo '```'
		if [ -s "$out/runs/lat5k.$side.profile.top.txt" ]; then
			cat "$out/runs/lat5k.$side.profile.top.txt"
		else
			echo "(no profile: see $out/runs/lat5k.$side.profile.perf.log)"
		fi
		echo '```'
	done
fi

echo
echo "### Commands"
echo
echo "Each run: a fresh hub with default settings (the caller's SSE_* variables removed), then the bench against it, then the hub stopped with SIGTERM."
echo
echo '```sh'
cat "$out/commands.txt"
echo '```'
