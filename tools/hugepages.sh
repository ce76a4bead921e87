#!/usr/bin/env bash
# Hugepages for the DPDK backend (doc/dpdk.md): reserve 2 MiB pages and mount hugetlbfs.
#
# Usage: tools/hugepages.sh reserve N [DIR]   make at least N free 2 MiB pages exist, adding to
#                                             /proc/sys/vm/nr_hugepages only what is missing,
#                                             and mount hugetlbfs on DIR (default
#                                             /dev/hugepages) unless one is mounted already.
#                                             Prints how many pages it added (give that
#                                             number back with release).
#        tools/hugepages.sh release N         take N pages back off nr_hugepages (pages in use
#                                             stay: the kernel frees only free ones).
#        tools/hugepages.sh status            counts and hugetlbfs mounts.
# Needs root. Exit 1 with the reason when the kernel cannot give the pages (memory too
# fragmented or too small): DPDK can still run with --no-huge.
set -euo pipefail

NR=/proc/sys/vm/nr_hugepages
MEMINFO=/proc/meminfo

die() { echo "hugepages: $*" >&2; exit 1; }
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' "$MEMINFO"; }

mounted() {
	awk '$3 == "hugetlbfs" { print $2 }' /proc/mounts | head -n 1
}

reserve() {
	local want=$1 dir=${2:-/dev/hugepages} free total add got
	[[ $want =~ ^[0-9]+$ ]] || die "reserve: '$want' is not a page count"
	[ -w "$NR" ] || die "cannot write $NR (needs root)"
	[ "$(meminfo Hugepagesize)" = 2048 ] || die "default hugepage size is not 2 MiB"
	free=$(meminfo HugePages_Free)
	total=$(cat "$NR")
	add=0
	if [ "$free" -lt "$want" ]; then
		add=$((want - free))
		echo $((total + add)) >"$NR"
		got=$(cat "$NR")
		if [ "$got" -lt $((total + add)) ]; then
			echo "$total" >"$NR"
			die "asked for $((total + add)) pages, the kernel gave $got (memory)"
		fi
	fi
	if [ -z "$(mounted)" ]; then
		mkdir -p "$dir"
		mount -t hugetlbfs -o pagesize=2M nodev "$dir" || {
			[ "$add" -gt 0 ] && echo "$total" >"$NR"
			die "cannot mount hugetlbfs on $dir"
		}
	fi
	echo "$add"
}

release() {
	local n=$1 total
	[[ $n =~ ^[0-9]+$ ]] || die "release: '$n' is not a page count"
	total=$(cat "$NR")
	[ "$n" -le "$total" ] || n=$total
	echo $((total - n)) >"$NR"
}

case ${1:-} in
reserve) reserve "${2:?reserve N [DIR]}" "${3:-}" ;;
release) release "${2:?release N}" ;;
status)
	echo "nr_hugepages $(cat "$NR"), free $(meminfo HugePages_Free), size $(meminfo Hugepagesize) kB"
	echo "hugetlbfs: $(mounted)"
	;;
*) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
