#!/usr/bin/env bash
# Runs every test of ssevents with the race detector: the core module (unit
# tests, real redis-server processes, end-to-end hub tests) and the examples
# module (headless Chromium browser tests, the local multi-instance
# deployment behind nginx) and the faults module (network faults injected
# by an in-process TCP proxy). Lints all three first with golangci-lint
# (.golangci.yml). Installs what the tests need when it is missing.
# A failing step does not skip the others: every step runs, the failed ones
# are listed at the end, and the script then exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# examples/compat runs the npm eventsource package (npm ci into a temp dir).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Browser tests open many sockets; the hub tests hold thousands of streams.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

failed=()
# step runs a command under a title and records the title if it fails.
step() {
  local title=$1
  shift
  echo "== $title"
  "$@" || failed+=("$title")
}

step "go vet" go vet ./...

# golangci-lint at a pinned version (bump it here, on purpose), with the
# committed .golangci.yml, in each module. Installed into GOPATH/bin when
# missing or at another version. --allow-parallel-runners: a second copy of
# this script (or an editor's linter) may be running on the same machine.
golangci_version=2.15.0
lint="$(go env GOPATH)/bin/golangci-lint"
if [ "$("$lint" version --short 2>/dev/null || true)" != "$golangci_version" ]; then
  echo "test.sh: installing golangci-lint v$golangci_version"
  GOBIN="$(go env GOPATH)/bin" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v$golangci_version"
fi
lint_config="$PWD/.golangci.yml"
for module in . examples faults; do
  [ -f "$module/go.mod" ] || continue
  step "golangci-lint ($module)" bash -c "cd '$module' && '$lint' run --allow-parallel-runners --config '$lint_config' ./..."
done
step "core module: go test -race ./..." go test -race -count=1 -timeout 20m ./...
# By default on Linux a caught-up HTTP/1.x stream is served by the poller;
# these packages' stream behaviour must hold on both paths.
step "the same stream tests on the goroutine I/O path (SSE_POLLER=false)" \
  env SSE_POLLER=false go test -race -count=1 -timeout 10m . ./hub/... ./cmd/ssevents/...
# Seed corpora already ran above as ordinary tests; this explores past them.
# A crash writes its input under testdata/fuzz, to commit as a new seed.
for target in ".:FuzzSubscribeQuery" "./hub:FuzzPublishBody" "./hub:FuzzSubscriberToken" "./internal/wire:FuzzParser"; do
  step "fuzzing ${target} briefly (${SSE_FUZZTIME:=5s})" \
    go test -run '^$' -fuzz "^${target#*:}\$" -fuzztime "$SSE_FUZZTIME" "${target%%:*}"
done
# The browser client's node tests: the parser, the connection logic, and
# the client against a real `ssevents serve` they build. No npm install:
# the tests use only node and the module itself.
if command -v node >/dev/null 2>&1; then
  step "clients/js: node --test (parser, backoff, token refresh against ssevents serve)" \
    bash -c "cd clients/js && node --test test/"
else
  echo "test.sh: node not found: install Node 20 or later for the clients/js tests"
  failed+=("clients/js: node not found")
fi
if [ -f examples/go.mod ]; then
  step "examples module: go vet ./..." go -C examples vet ./...
  # One package at a time: each browser test runs its own Chromium.
  step "examples module: go test -race ./... (browser and deployment tests)" \
    go -C examples test -race -count=1 -p 1 -timeout 20m ./...
fi
if [ -f faults/go.mod ]; then
  step "faults module: go vet ./..." go -C faults vet ./...
  step "faults module: go test -race ./... (fault proxy in front of real redis-server processes)" \
    go -C faults test -race -count=1 -timeout 15m ./...
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "test.sh: ${#failed[@]} step(s) failed:"
  printf '  - %s\n' "${failed[@]}"
  exit 1
fi
echo "test.sh: every step passed"
