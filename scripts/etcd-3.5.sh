#!/usr/bin/env bash
# Fetches Debian trixie's etcd 3.5 (etcd-server and etcd-client) without touching the system's apt
# configuration: a private sources list, state and cache under $ETCD35_DIR, the mirror taken from
# the system's own bookworm sources, the packages unpacked with dpkg-deb -x. Their binaries are
# static Go programs and run on bookworm. Prints the folder holding `etcd` and `etcdctl`.
# Usage: scripts/etcd-3.5.sh [dir]   (default: $ETCD35_DIR or /var/cache/etcd-ts/etcd-3.5)
set -euo pipefail
dir=${1:-${ETCD35_DIR:-/var/cache/etcd-ts/etcd-3.5}}
bin="$dir/root/usr/bin"
if [ -x "$bin/etcd" ] && [ -x "$bin/etcdctl" ]; then echo "$bin"; exit 0; fi

# The mirror this machine already uses for Debian (deb822 or one-line format).
mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)[[:space:]]*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1 || true)
if [ -z "$mirror" ]; then
  mirror=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\/debian\)[[:space:]].*/\2/p' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n 1 || true)
fi
[ -n "$mirror" ] || { echo "etcd-3.5: no Debian mirror found in /etc/apt sources" >&2; exit 1; }

apt="$dir/apt"
mkdir -p "$apt/state/lists/partial" "$apt/cache/archives/partial" "$apt/etc/sources.list.d" "$apt/etc/preferences.d" "$dir/debs"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" > "$apt/etc/sources.list"
opts=(-o "Dir::Etc=$apt/etc" -o "Dir::Etc::sourcelist=$apt/etc/sources.list" -o "Dir::Etc::sourceparts=$apt/etc/sources.list.d"
      -o "Dir::Etc::preferencesparts=$apt/etc/preferences.d" -o "Dir::State=$apt/state" -o "Dir::Cache=$apt/cache"
      -o "Dir::State::status=/dev/null" -o "APT::Architecture=$(dpkg --print-architecture)" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
apt-get "${opts[@]}" -qq update >&2
( cd "$dir/debs" && apt-get "${opts[@]}" -qq download etcd-server etcd-client >&2 )
rm -rf "$dir/root"
for deb in "$dir"/debs/*.deb; do dpkg-deb -x "$deb" "$dir/root"; done
"$bin/etcd" --version >&2
echo "$bin"
