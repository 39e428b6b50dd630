# shellcheck shell=bash
# Sourced by deploy/local/up.sh and down.sh.

# default_state_dir prints the default state directory: one per user
# ($XDG_STATE_HOME/ssevents-local, else ~/.local/state/ssevents-local),
# so that two users of one machine neither collide on one directory nor
# stop each other's processes; /tmp/ssevents-local-UID without a home.
default_state_dir() {
	if [ -n "${XDG_STATE_HOME:-}" ]; then
		echo "$XDG_STATE_HOME/ssevents-local"
	elif [ -n "${HOME:-}" ]; then
		echo "$HOME/.local/state/ssevents-local"
	else
		echo "/tmp/ssevents-local-$(id -u)"
	fi
}
