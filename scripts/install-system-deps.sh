#!/usr/bin/env bash
# Installs the system programs the tests drive for real (msmtp, msmtpd, swaks, curl, python3, a keyring in a
# private D-Bus session, headless Chromium). Idempotent: when everything is present it only asks dpkg, checks the
# capabilities below and exits. Packages are installed with --no-install-recommends, so what a program the tests drive
# only *recommends* (swaks' TLS, git send-email's Perl modules) is listed here by name; the capability checks at the
# end fail the run at once, naming what is missing, instead of a test failing later.
set -euo pipefail

packages=(
  msmtp msmtp-mta          # the delivery command, and Debian's msmtpd that tests and the bench compare against
  swaks curl python3       # real SMTP clients
  libio-socket-inet6-perl  # swaks on ::1 (the both-loopbacks tests); recommended by swaks only
  libnet-ssleay-perl libio-socket-ssl-perl   # swaks' and git send-email's TLS; recommended only
  thunderbird mutt git-email   # mail programs the client-setup tests drive (Thunderbird headless over Marionette)
  libmailtools-perl libauthen-sasl-perl      # git send-email: Mail::Address, and AUTH; recommended by git-email only
  ca-certificates          # the system trust store msmtp's `tls_trust_file system` reads; recommended only
  iproute2                 # `ip` inside unshare -n: machines with only one loopback
  g++ make pkg-config      # node-gyp builds @github/keytar during npm ci
  socat procps             # inetd-style plumbing; ps/pgrep for process checks
  openssl                  # throwaway certificates for the STARTTLS tests
  systemd                  # systemd-socket-activate, the other inetd-style launcher cli.test.ts drives
  dbus-daemon dbus-bin dbus-x11 gnome-keyring libsecret-1-dev libsecret-tools   # Secret Service for keytar
  libglib2.0-bin python3-dbus   # gdbus (one of the tray probes), a fake StatusNotifierWatcher owning its bus name
  chromium fonts-dejavu-core   # headless UI tests; a font so screenshots show text
  lsof util-linux openssl     # health checks: lsof names a port's holder, setpriv runs msmtp as an ordinary user; TLS clients
)

# What the tests use of each program, checked after every run: a package present without its recommended modules
# (or a build without keyring support) fails here, by name.
check_capabilities() {
  local failed=() swaks_support
  swaks_support=$(swaks --support 2>&1 || true)
  grep -q '^=== TLS supported' <<<"$swaks_support" || failed+=("swaks without TLS (libnet-ssleay-perl, libio-socket-ssl-perl)")
  grep -q '^=== IPv6 supported' <<<"$swaks_support" || failed+=("swaks without IPv6 (libio-socket-inet6-perl)")
  perl -MMail::Address -MAuthen::SASL -MIO::Socket::SSL -e 1 2>/dev/null \
    || failed+=("git send-email without Mail::Address, Authen::SASL or IO::Socket::SSL (libmailtools-perl, libauthen-sasl-perl, libio-socket-ssl-perl)")
  grep -q '^Keyring support: .*Gnome' <<<"$(msmtp --version 2>/dev/null || true)" || failed+=("msmtp without Secret Service keyring support")
  /usr/bin/python3 -c 'import dbus' 2>/dev/null || failed+=("Debian's python3 without dbus (python3-dbus)")
  [[ -d /etc/ssl/certs ]] || failed+=("no system trust store (ca-certificates)")
  local program
  for program in msmtpd curl mutt git thunderbird chromium socat lsof setpriv gdbus dbus-send busctl secret-tool \
    gnome-keyring-daemon dbus-run-session systemd-socket-activate openssl ip; do
    command -v "$program" >/dev/null || failed+=("no $program on PATH")
  done
  if ((${#failed[@]} > 0)); then
    printf 'install-system-deps: a program the tests drive lacks what they use:\n' >&2
    printf '  - %s\n' "${failed[@]}" >&2
    exit 1
  fi
}

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
  [[ "$status" == installed ]] || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  check_capabilities
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "install-system-deps: missing packages (${missing[*]}) and no apt-get on this system; install them by hand" >&2
  exit 1
fi
sudo=()
if ((EUID != 0)); then
  if ! command -v sudo >/dev/null; then
    echo "install-system-deps: missing packages (${missing[*]}); run as root or install sudo" >&2
    exit 1
  fi
  sudo=(sudo)
fi

echo "install-system-deps: installing ${missing[*]}" >&2

# msmtp-mta ships an msmtpd service; a package install must not leave a daemon listening. Debian's invoke-rc.d
# and deb-systemd-invoke ask /usr/sbin/policy-rc.d first: exit 101 means "do not start". Install one only for
# the duration of this run, and only if the system has none of its own.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 755 "$policy"
  own_policy=1
fi
remove_own_policy() {
  if ((own_policy)); then "${sudo[@]}" rm -f "$policy"; fi
}
trap remove_own_policy EXIT

running_msmtpd() { if command -v pgrep >/dev/null; then pgrep -x msmtpd || true; fi; }
msmtpd_pids_before=$(running_msmtpd)

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null

# Belt and braces: stop any msmtpd the install itself started (by pid, never by name).
for pid in $(running_msmtpd); do
  if ! grep -qx "$pid" <<<"$msmtpd_pids_before"; then
    echo "install-system-deps: stopping msmtpd (pid $pid) started by the package install" >&2
    "${sudo[@]}" kill "$pid" || true
  fi
done

check_capabilities
echo "install-system-deps: done" >&2
