# shellcheck shell=bash
# Sourced by deploy/local/up.sh and scripts/perf/targets.sh; the caller
# defines die.

# free_port prints a loopback TCP port nobody listens on. Ports are
# drawn at random from a range the kernel does not hand out for outgoing
# connections (below 32768), and checked with a connect.
taken=" "
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 12000))
		case "$taken" in *" $p "*) continue ;; esac
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			taken="$taken$p "
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}
