#!/usr/bin/env bash
# with-keyring.sh CMD [ARGS...]
# Runs CMD inside a private D-Bus session bus with its own gnome-keyring, unlocked with a throwaway password,
# so code that uses the Secret Service (keytar, secret-tool, libsecret) works on a headless machine without
# touching the user's real keyring. Exits with CMD's exit status and prints nothing after CMD's own output.
set -euo pipefail

if (($# == 0)); then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

if [[ "${WITH_KEYRING_INSIDE:-}" != 1 ]]; then
  # dbus-run-session starts a fresh session bus, runs us again inside it, and stops the bus when we exit.
  # The bus daemon's harmless "Failed to set fd limit" complaint (unprivileged containers) is filtered out.
  WITH_KEYRING_INSIDE=1 exec dbus-run-session -- "$BASH" "$0" "$@" \
    2> >(grep -v --line-buffered 'Failed to set fd limit' >&2)
fi
unset WITH_KEYRING_INSIDE

state=$(mktemp -d "${TMPDIR:-/tmp}/with-keyring.XXXXXX")
mkdir -m 700 "$state/data" "$state/run"
keyring_pid=
cleanup() {
  if [[ -n "$keyring_pid" ]]; then
    kill "$keyring_pid" 2>/dev/null || true
    wait "$keyring_pid" 2>/dev/null || true
  fi
  rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The daemon gets a private data and runtime dir, so the keyring it creates (password "pw") is throwaway;
# the command itself keeps the caller's HOME and XDG variables.
echo -n pw | XDG_DATA_HOME="$state/data" XDG_RUNTIME_DIR="$state/run" \
  gnome-keyring-daemon --foreground --unlock --components=secrets >"$state/daemon.log" 2>&1 &
keyring_pid=$!

# Ready once it owns the Secret Service name on our bus (bounded: 10 s).
secrets_owned() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'
}
for ((i = 0; i < 200; i++)); do
  secrets_owned && break
  if ! kill -0 "$keyring_pid" 2>/dev/null; then
    echo "with-keyring: gnome-keyring-daemon exited early:" >&2
    cat "$state/daemon.log" >&2
    exit 1
  fi
  sleep 0.05
done
if ! secrets_owned; then
  echo "with-keyring: gnome-keyring-daemon did not register org.freedesktop.secrets within 10 s" >&2
  cat "$state/daemon.log" >&2
  exit 1
fi
export GNOME_KEYRING_CONTROL="$state/run/keyring"

# Not exec: the trap must still stop the daemon and remove its files after the command ends.
set +e
"$@"
status=$?
set -e
exit "$status"
