#!/usr/bin/env bash
# Checks that Python's httpx-sse reads a stream of several topics, whose
# events carry ssevents' "topic:" line, as it reads any other: named and
# message events with their data and ids (httpx_sse_check.py).
#
#   scripts/compat/httpx-sse.sh
#
# Builds ./cmd/ssevents, serves it on a free loopback port without
# authentication (loopback publishes are accepted), and runs the check in a
# new virtualenv with httpx==0.28.1 and httpx-sse==0.4.3 from PyPI.
# Where PyPI cannot be reached, set PYTHON to an interpreter that already
# has httpx and httpx_sse importable (PYTHONPATH works too); the script
# then installs nothing.
#
# Needs: go, python3 (with venv unless PYTHON is set), curl.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d /tmp/ssevents-httpx-sse.XXXXXX)
pid=""
cleanup() {
	[ -z "$pid" ] || kill "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

if [ -z "${PYTHON:-}" ]; then
	python3 -m venv "$tmp/venv"
	"$tmp/venv/bin/pip" install --quiet httpx==0.28.1 httpx-sse==0.4.3
	PYTHON="$tmp/venv/bin/python"
fi
"$PYTHON" -c 'import httpx, httpx_sse' || { echo "httpx-sse.sh: $PYTHON cannot import httpx and httpx_sse" >&2; exit 1; }

(cd "$repo" && go build -o "$tmp/ssevents" ./cmd/ssevents)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
env -i PATH="$PATH" HOME="$tmp" SSE_ADDR="127.0.0.1:$port" "$tmp/ssevents" serve >"$tmp/hub.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	curl -fsS "http://127.0.0.1:$port/health/live" >/dev/null 2>&1 && break
	sleep 0.1
done
"$PYTHON" "$here/httpx_sse_check.py" "http://127.0.0.1:$port"
