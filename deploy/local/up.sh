#!/usr/bin/env bash
# Start the production topology on this machine, without Docker, from
# Debian packages: Redis (or a 3-node Redis Cluster with --cluster), three
# `ssevents serve` hubs sharing it, and nginx in front of them, all on
# loopback. Prints the nginx URL; deploy/local/down.sh stops everything.
#
#   deploy/local/up.sh [--cluster] [--state DIR] [--instances N]
#   deploy/local/up.sh --data-dir DIR [--state DIR]
#
# --data-dir DIR runs one hub on the embedded broker instead, without
# Redis, its history kept in DIR (SSE_DATA_DIR; the directory is made if
# missing and kept by down.sh, so a hub started again resumes from it).
# Several hubs on the embedded broker would not see each other's events,
# hence one.
#
# Everything lives in the state directory (default, per user:
# $XDG_STATE_HOME/ssevents-local, else ~/.local/state/ssevents-local):
# the binary, configs, logs (logs/*.log), pid files (pids/*.pid) and
# env, a file of shell assignments describing what runs:
#
#   NGINX_URL=http://127.0.0.1:PORT   the entry point
#   HUB_URLS="http://127.0.0.1:P1 ..."  each hub, directly
#   SSE_REDIS_URL=redis://127.0.0.1:PORT/0  (memory:// with --data-dir)
#   SSE_JWT_SECRET_FILE=DIR/jwt-secret  mint publish tokens with it:
#     DIR/bin/ssevents token --secret "$(cat DIR/jwt-secret)" --publish '*'
#
# Environment: SSEVENTS_BIN, a prebuilt ssevents binary (default: go
# build ./cmd/ssevents once into the state directory); SSE_PUBLIC_TOPICS
# (default "demo,demo:*,public:*"), topics anyone may subscribe to; any
# other SSE_* variable is passed to the hubs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=deploy/local/lib/state-dir.sh
. "$here/lib/state-dir.sh"
state=$(default_state_dir)
cluster=false
instances=""
data_dir=""

usage() { sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case "$1" in
	--cluster) cluster=true ;;
	--state) state=$2; shift ;;
	--state=*) state=${1#--state=} ;;
	--instances) instances=$2; shift ;;
	--data-dir) data_dir=$2; shift ;;
	--data-dir=*) data_dir=${1#--data-dir=} ;;
	-h | --help) usage; exit 0 ;;
	*) echo "up.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done
case "${instances:-3}" in
'' | *[!0-9]*) echo "up.sh: --instances wants a number" >&2; exit 2 ;;
esac
if [ -n "$data_dir" ]; then
	$cluster && { echo "up.sh: --data-dir runs the embedded broker, not --cluster" >&2; exit 2; }
	[ "${instances:-1}" = 1 ] ||
		{ echo "up.sh: --data-dir runs one hub (the embedded broker is not shared)" >&2; exit 2; }
	mkdir -p "$data_dir"
	data_dir=$(cd "$data_dir" && pwd)
fi
instances=${instances:-$([ -n "$data_dir" ] && echo 1 || echo 3)}

log() { printf 'up.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# --- packages ----------------------------------------------------------
need=()
if [ -z "$data_dir" ]; then
	command -v redis-server >/dev/null || need+=(redis-server)
	command -v redis-cli >/dev/null || need+=(redis-tools)
fi
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "missing ${need[*]}: run as root or apt-get install -y ${need[*]}"
	log "installing ${need[*]}"
	apt-get update -qq >/dev/null
	# A policy-rc.d that refuses keeps the packages' own services (nginx
	# on port 80, a system Redis) from starting: this script runs its own.
	policy=false
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		policy=true
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || {
		$policy && rm -f /usr/sbin/policy-rc.d
		die "apt-get install ${need[*]} failed"
	}
	$policy && rm -f /usr/sbin/policy-rc.d
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

# --- state directory ---------------------------------------------------
if [ -d "$state/pids" ] && ls "$state"/pids/*.pid >/dev/null 2>&1; then
	die "$state already has running processes; run deploy/local/down.sh --state $state first"
fi
mkdir -p "$state"/{bin,logs,pids,redis,nginx/temp}
state=$(cd "$state" && pwd)

# free_port: a loopback TCP port nobody listens on (shared with scripts/perf).
# shellcheck source=deploy/local/lib/free-port.sh
. "$here/lib/free-port.sh"

# start NAME CMD...: runs CMD in the background, logs to logs/NAME.log,
# and records "PID COMMAND" in pids/NAME.pid for down.sh, which checks
# the command before it signals the pid.
start() {
	local name=$1
	shift
	"$@" </dev/null >"$state/logs/$name.log" 2>&1 &
	echo "$! $(basename "$1")" >"$state/pids/$name.pid"
}

# wait_for NAME CMD...: retries CMD for up to 30 s while the process
# started as NAME runs.
wait_for() {
	local name=$1 pid
	shift
	read -r pid _ <"$state/pids/$name.pid"
	for _ in $(seq 150); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		kill -0 "$pid" 2>/dev/null || die "$name exited; see $state/logs/$name.log"
		sleep 0.2
	done
	die "$name did not come up in 30 s; see $state/logs/$name.log"
}

# On any failure, stop what was started.
on_exit() {
	local status=$?
	if [ "$status" -ne 0 ]; then
		log "failed; stopping what was started"
		"$here/down.sh" --state "$state" >/dev/null 2>&1 || true
	fi
}
trap on_exit EXIT

# --- the hub binary ----------------------------------------------------
bin=${SSEVENTS_BIN:-}
if [ -z "$bin" ]; then
	bin="$state/bin/ssevents"
	log "building ssevents into $bin"
	(cd "$repo" && go build -o "$bin" ./cmd/ssevents)
fi
[ -x "$bin" ] || die "$bin is not executable"

# --- Redis -------------------------------------------------------------
redis_common=(--bind 127.0.0.1 --protected-mode yes --save "" --appendonly no)
if [ -n "$data_dir" ]; then
	redis_url=memory://
	export SSE_DATA_DIR="$data_dir"
elif $cluster; then
	nodes=()
	for i in 1 2 3; do
		p=$(free_port)
		bus=$(free_port) # the cluster bus; by default port+10000, which may be taken
		mkdir -p "$state/redis/node$i"
		start "redis-$i" redis-server --port "$p" "${redis_common[@]}" --dir "$state/redis/node$i" \
			--cluster-enabled yes --cluster-port "$bus" --cluster-config-file nodes.conf --cluster-node-timeout 5000
		nodes+=("127.0.0.1:$p")
	done
	for i in 1 2 3; do
		n=${nodes[$((i - 1))]}
		wait_for "redis-$i" redis-cli -h "${n%:*}" -p "${n#*:}" ping
	done
	redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$state/logs/redis-cluster-create.log" 2>&1 ||
		die "redis-cli --cluster create failed; see $state/logs/redis-cluster-create.log"
	wait_for "redis-1" bash -c "redis-cli -h 127.0.0.1 -p ${nodes[0]#*:} cluster info | grep -q cluster_state:ok"
	redis_url="redis+cluster://$(IFS=,; echo "${nodes[*]}")"
else
	p=$(free_port)
	start redis redis-server --port "$p" "${redis_common[@]}" --dir "$state/redis"
	wait_for redis redis-cli -h 127.0.0.1 -p "$p" ping
	redis_url="redis://127.0.0.1:$p/0"
fi
log "broker at $redis_url${data_dir:+, history in $data_dir}"

# --- hubs --------------------------------------------------------------
secret_file="$state/jwt-secret"
if [ ! -s "$secret_file" ]; then
	(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secret_file")
fi
hub_urls=()
upstreams=""
for i in $(seq "$instances"); do
	p=$(free_port)
	SSE_ADDR="127.0.0.1:$p" SSE_REDIS_URL="$redis_url" SSE_JWT_SECRET="$(cat "$secret_file")" \
		SSE_PUBLIC_TOPICS="${SSE_PUBLIC_TOPICS:-demo,demo:*,public:*}" \
		start "hub-$i" "$bin" serve
	hub_urls+=("http://127.0.0.1:$p")
	upstreams+="        server 127.0.0.1:$p max_fails=1 fail_timeout=5s;"$'\n'
done
for i in $(seq "$instances"); do
	wait_for "hub-$i" curl -fsS "${hub_urls[$((i - 1))]}/health/ready"
done
log "hubs at ${hub_urls[*]}"

# --- nginx -------------------------------------------------------------
nginx_port=$(free_port)
user_line=""
# As root, the workers would run as nobody, who cannot enter a private
# state directory; this loopback-only setup keeps them as the caller.
[ "$(id -u)" = 0 ] && user_line="user root;"
cat >"$state/nginx/nginx.conf" <<EOF
# Written by deploy/local/up.sh; the SSE settings are the shared ones.
$user_line
worker_processes 1;
pid $state/nginx/nginx.pid;
error_log $state/logs/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log $state/logs/nginx-access.log;
    client_body_temp_path $state/nginx/temp/body;
    proxy_temp_path $state/nginx/temp/proxy;
    fastcgi_temp_path $state/nginx/temp/fastcgi;
    uwsgi_temp_path $state/nginx/temp/uwsgi;
    scgi_temp_path $state/nginx/temp/scgi;
    upstream ssevents {
$upstreams        keepalive 32;
    }
    server {
        listen 127.0.0.1:$nginx_port;
        include $repo/deploy/nginx/ssevents-locations.conf;
    }
}
EOF
"$nginx_bin" -t -e "$state/logs/nginx-error.log" -p "$state/nginx" -c "$state/nginx/nginx.conf" >"$state/logs/nginx-test.log" 2>&1 ||
	die "nginx rejected its config; see $state/logs/nginx-test.log"
start nginx "$nginx_bin" -e "$state/logs/nginx-error.log" -p "$state/nginx" -c "$state/nginx/nginx.conf" -g "daemon off;"
nginx_url="http://127.0.0.1:$nginx_port"
wait_for nginx curl -fsS "$nginx_url/health/ready"

cat >"$state/env" <<EOF
NGINX_URL=$nginx_url
HUB_URLS="${hub_urls[*]}"
SSE_REDIS_URL=$redis_url
SSE_DATA_DIR=$data_dir
SSE_JWT_SECRET_FILE=$secret_file
SSEVENTS_BIN=$bin
EOF
trap - EXIT
log "up: state in $state (stop with deploy/local/down.sh --state $state)"
echo "$nginx_url"
