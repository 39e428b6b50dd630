#!/usr/bin/env bash
# Presence under the same load on Centrifugo and on ssevents, in one run:
# a redis-server of its own, Centrifugo v6.9.1 (built from the Go module
# proxy into /tmp) on the Redis engine with presence on the "pres"
# namespace, `presload --target centrifugo`; then, with --bin, an
# ssevents hub on the same Redis flushed, tracking pres:*, and `presload
# --target ssevents`. Prints both JSON reports (kept in --out) and a
# table of them side by side.
#
#   scripts/perf/presence/compare.sh [--bin SSEVENTS] [--centrifugo BIN]
#                                    [--out DIR] [--no-centrifugo]
#                                    [PRESLOAD FLAGS ...] [-- SSE_VAR=value ...]
#
# --bin SSEVENTS   an ssevents binary with presence; without it only
#                  Centrifugo is run
# --centrifugo BIN a Centrifugo binary (default: /tmp/centrifugo-bin/
#                  centrifugo, built with go install if missing)
# --no-centrifugo  run ssevents only
# --out DIR        where the reports, configs and logs go (default: a new
#                  directory under /tmp); kept
# presload flags   passed to both runs, e.g. --streams 12000 --users 10000
#                  --topics 11 --big 10000 --churn 1000 --churn-rate 500
#                  --steady 30s --calls 500 (those are the defaults: run
#                  presload --help for all)
# after --         settings (SSE_* variables) for the hub
#
# Both servers get the same streams: presload (one process, up to 20,000
# open files) and the server (another) each hold one descriptor a stream,
# so the default 12,000 streams fit the 20,000-file limit with room for
# Redis connections; one server's run takes about 2.5 minutes on 2
# cores. Only loopback addresses are used.
#
# Needs: go, redis-server, redis-cli, curl, jq.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
log() { printf 'compare.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }
# shellcheck source=../../../deploy/local/lib/free-port.sh
. "$repo/deploy/local/lib/free-port.sh"

centrifugo_version=6.9.1
bin="" cbin="" out="" run_centrifugo=true load=() env=()
while [ $# -gt 0 ]; do
	case "$1" in
	--bin) bin=$2; shift 2 ;;
	--centrifugo) cbin=$2; shift 2 ;;
	--no-centrifugo) run_centrifugo=false; shift ;;
	--out) out=$2; shift 2 ;;
	-h | --help) sed -n '2,33p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	--) shift; env=("$@"); break ;;
	--*=*) load+=("$1"); shift ;;
	--*) load+=("$1" "$2"); shift 2 ;;
	*) die "unknown argument $1 (try --help)" ;;
	esac
done
for c in go redis-server redis-cli curl jq; do
	command -v "$c" >/dev/null || die "$c is missing"
done
[ -z "$bin" ] || bin=$(realpath "$bin")
[ -z "$bin" ] || [ -x "$bin" ] || die "$bin is not executable"
$run_centrifugo || [ -n "$bin" ] || die "--no-centrifugo needs --bin"
[ -n "$out" ] || out=$(mktemp -d /tmp/presence-compare.XXXXXX)
mkdir -p "$out"
out=$(cd "$out" && pwd)

# Every process started here is stopped on exit, by its pid.
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# wait_up NAME PID CMD...: retries CMD for 30 s while PID runs.
wait_up() {
	local name=$1 pid=$2
	shift 2
	for _ in $(seq 150); do
		"$@" >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || die "$name exited; see $out/$name.log"
		sleep 0.2
	done
	die "$name did not come up in 30 s; see $out/$name.log"
}

# 1. The programs.
if $run_centrifugo && [ -z "$cbin" ]; then
	cbin=/tmp/centrifugo-bin/centrifugo
	if [ ! -x "$cbin" ] || ! "$cbin" version | grep -q "v$centrifugo_version"; then
		log "building Centrifugo v$centrifugo_version into /tmp/centrifugo-bin (a few minutes the first time)"
		# The release sets its version with -ldflags; so does this build.
		GOBIN=/tmp/centrifugo-bin GOFLAGS=-buildvcs=false go install \
			-ldflags "-X github.com/centrifugal/centrifugo/v6/internal/build.Version=$centrifugo_version" \
			"github.com/centrifugal/centrifugo/v6@v$centrifugo_version"
	fi
fi
(cd "$here" && go build -o "$out/presload" .)
ulimit -n "$(ulimit -Hn)"

# 2. Redis, with nothing saved.
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$out" >"$out/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
wait_up redis "$redis_pid" redis-cli -p "$rport" ping
secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
common=(--secret "$secret" --redis "127.0.0.1:$rport" --redis-pid "$redis_pid")

# 3. Centrifugo.
if $run_centrifugo; then
	cport=$(free_port)
	api_key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	# Presence and join/leave on the pres namespace, join/leave pushed
	# only to the watchers that ask (their token's subs override), the
	# Redis engine with presence_user_mapping (the documented way to keep
	# presence_stats from reading the whole presence hash).
	cat >"$out/centrifugo.json" <<EOF
{
  "http_server": {"address": "127.0.0.1", "port": $cport},
  "log": {"level": "warn"},
  "usage_stats": {"disabled": true},
  "prometheus": {"enabled": true},
  "engine": {"type": "redis", "redis": {"address": "redis://127.0.0.1:$rport", "presence_user_mapping": true}},
  "client": {"token": {"hmac_secret_key": "$secret"}},
  "http_api": {"key": "$api_key"},
  "uni_sse": {"enabled": true},
  "channel": {"namespaces": [{"name": "pres", "presence": true, "join_leave": true, "force_push_join_leave": false}]}
}
EOF
	"$cbin" checkconfig -c "$out/centrifugo.json" >"$out/centrifugo-checkconfig.log" 2>&1 ||
		die "Centrifugo rejected its config; see $out/centrifugo-checkconfig.log"
	"$cbin" -c "$out/centrifugo.json" >"$out/centrifugo.log" 2>&1 &
	cpid=$!
	pids+=("$cpid")
	wait_up centrifugo "$cpid" curl -fsS -X POST -H "X-API-Key: $api_key" -d '{}' "http://127.0.0.1:$cport/api/info"
	log "Centrifugo $("$cbin" version | awk '{print $2}') (pid $cpid) on 127.0.0.1:$cport, Redis on $rport"
	cmd=("$out/presload" --target centrifugo --url "http://127.0.0.1:$cport" --server-pid "$cpid" "${common[@]}" "${load[@]}")
	# shellcheck disable=SC2016 # the key is left out of the log
	printf '+ PRESLOAD_API_KEY=$KEY %s\n' "${cmd[*]/$secret/\$SECRET}" >&2
	PRESLOAD_API_KEY=$api_key "${cmd[@]}" >"$out/centrifugo-report.json" 2>"$out/centrifugo-presload.log" ||
		log "presload against Centrifugo failed; see $out/centrifugo-presload.log"
	# What Centrifugo says it dropped: its Redis PUB/SUB layer delivers at
	# most once and drops a message when its buffer is full.
	curl -fsS "http://127.0.0.1:$cport/metrics" >"$out/centrifugo-metrics.txt" || true
	dropped=$(awk '/^centrifugo_broker_redis_pub_sub_dropped_messages/ { s += $NF } END { print s + 0 }' "$out/centrifugo-metrics.txt")
	if [ -s "$out/centrifugo-report.json" ]; then
		jq --argjson d "$dropped" '.server_pubsub_dropped = $d' "$out/centrifugo-report.json" >"$out/report.tmp" &&
			mv "$out/report.tmp" "$out/centrifugo-report.json"
	fi
	stop "$cpid"
fi

# 4. ssevents, on the same Redis flushed.
if [ -n "$bin" ]; then
	redis-cli -p "$rport" flushall >/dev/null
	hport=$(free_port)
	env SSE_ADDR="127.0.0.1:$hport" SSE_REDIS_URL="redis://127.0.0.1:$rport/0" SSE_JWT_SECRET="$secret" \
		SSE_PRESENCE='pres:*' "${env[@]}" "$bin" serve >"$out/ssevents.log" 2>&1 &
	hpid=$!
	pids+=("$hpid")
	wait_up ssevents "$hpid" curl -fsS "http://127.0.0.1:$hport/health/ready"
	log "ssevents (pid $hpid) on 127.0.0.1:$hport, Redis on $rport"
	cmd=("$out/presload" --target ssevents --url "http://127.0.0.1:$hport" --server-pid "$hpid" "${common[@]}" "${load[@]}")
	printf '+ %s %s\n' "SSE_PRESENCE='pres:*' ${env[*]}" "${cmd[*]/$secret/\$SECRET}" >&2
	"${cmd[@]}" >"$out/ssevents-report.json" 2>"$out/ssevents-presload.log" ||
		log "presload against ssevents failed; see $out/ssevents-presload.log"
	stop "$hpid"
fi

# 5. The reports side by side.
for f in "$out"/centrifugo-report.json "$out"/ssevents-report.json; do
	[ -s "$f" ] || echo 'null' >"$f"
done
jq -rn --slurpfile c "$out/centrifugo-report.json" --slurpfile s "$out/ssevents-report.json" -f "$here/table.jq"
log "reports, configs and logs in $out"
