#!/usr/bin/env bash
# Install every Debian package that building and testing Pharos needs (idempotent).
#
# Usage: tools/install-deps.sh [--check]
#   --check   only say what is missing; exit 1 if anything is.
#
# When every package is already installed this does nothing at all (no apt-get update).
# Installing knot and nsd must not leave their daemons running on port 53: while apt runs,
# a policy-rc.d that denies every service start is in place (one that the machine already
# has is left as it is; ours is removed afterwards).
set -euo pipefail

PACKAGES=(
	# build
	make meson ninja-build pkg-config gcc clang llvm libc6-dev
	libldns-dev liburcu-dev libcriterion-dev libbpf-dev libxdp-dev libdpdk-dev
	libssl-dev
	# test peers and clients: DNS primaries and secondaries, BGP speakers, load
	knot knot-dnsutils bind9 bind9-dnsutils ldnsutils nsd dnsperf bird2 exabgp
	# XDP inspection (bpftool, xdp-loader) for the kernel-bypass tests
	bpftool xdp-tools
	# test harness: network namespaces, Debian's python with dnspython
	iproute2 util-linux procps python3 python3-dnspython
	# ping for the kernel-path checks of the kernel-bypass tests
	iputils-ping
	# ethtool: the DPDK test turns veth checksum offload off (frames cross into a TAP)
	ethtool
)

missing=()
for p in "${PACKAGES[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "install-deps: all ${#PACKAGES[@]} packages already installed"
	exit 0
fi
echo "install-deps: missing: ${missing[*]}"
if [ "${1:-}" = --check ]; then
	exit 1
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "install-deps: run as root (or install sudo)" >&2; exit 1; }
	SUDO=sudo
fi

POLICY=/usr/sbin/policy-rc.d
ours=0
cleanup() {
	if [ "$ours" = 1 ]; then
		$SUDO rm -f "$POLICY"
	fi
}
trap cleanup EXIT
if [ ! -e "$POLICY" ]; then
	# exit 101 = "action forbidden": invoke-rc.d / deb-systemd-invoke start nothing.
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
	$SUDO chmod 755 "$POLICY"
	ours=1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"

# Belt and braces: with systemd running, the units may still be enabled and started by a
# later boot; say so, and check that nothing listens on port 53 now.
if command -v ss >/dev/null && ss -Hlntu 'sport = :53' 2>/dev/null | grep -q .; then
	echo "install-deps: warning: something listens on port 53 after the install:" >&2
	ss -Hlntup 'sport = :53' >&2 || true
fi
echo "install-deps: done"
