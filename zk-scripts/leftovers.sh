#!/usr/bin/env bash
# List what finished tests left behind, and with --clean remove it; exit 1 if anything was
# found, 0 if nothing.
#
#   zk-scripts/leftovers.sh [--clean]
#
# What counts (only things a test made whose test process is gone):
# - hosts (zk-scripts/hosts.sh): namespaces k08-<tag>-h<n>, bridges k08br<tag>, veths
#   k08v<tag>h<n>, and with them their nftables rules and processes, of every set whose
#   owner process is gone, or that has no state file at all. A set made by hand
#   (`hosts.sh up` without an owner) is listed as a note, and kept.
# - an nftables table `kafka08` in this (root) namespace: no script of ours makes one.
# - processes (brokers, ZooKeeper members, tools) whose command line names a test folder
#   `kafka08-test-<prefix>-<pid>-...` of a test process <pid> that is gone.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
state_dir=${KAFKA08_HOSTS_STATE:-/run/kafka08-hosts}
clean=false
case "${1:-}" in
    --clean) clean=true ;;
    "") ;;
    *) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

found=0
report() {
    echo "leftover: $*"
    found=1
}

alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; }

# Tags of our namespaces and links.
tags() {
    {
        ip netns list 2>/dev/null | awk '{print $1}' | sed -n 's/^k08-\([0-9a-z]\{1,7\}\)-h[0-9]\+$/\1/p'
        ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' |
            sed -n -e 's/^k08br\([0-9a-z]\{1,7\}\)$/\1/p' -e 's/^k08v\([0-9a-z]\{1,7\}\)h[0-9]\+$/\1/p'
    } | sort -u
}

if command -v ip >/dev/null 2>&1; then
    for tag in $(tags); do
        owner=
        if [[ -f "$state_dir/$tag.env" ]]; then
            owner=$(sed -n 's/^OWNER_PID=//p' "$state_dir/$tag.env")
            if [[ -z "$owner" ]]; then
                echo "note: hosts of set $tag were made by hand (no owner); kept"
                continue
            fi
            alive "$owner" && continue
        fi
        what=$(ip netns list 2>/dev/null | awk '{print $1}' | grep "^k08-$tag-h" | tr '\n' ' ' || true)
        report "hosts of set $tag (owner ${owner:-unknown}, gone): ${what:-no namespace} k08br$tag"
        if $clean; then
            KAFKA08_HOSTS_TAG=$tag "$here/hosts.sh" down >/dev/null
        fi
    done
fi

if command -v nft >/dev/null 2>&1 && nft list tables 2>/dev/null | grep -qw kafka08; then
    report "an nftables table kafka08 in the root namespace"
    if $clean; then
        nft list tables | awk '$3 == "kafka08" {print $2}' | while read -r family; do
            nft delete table "$family" kafka08
        done
    fi
fi

for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [[ "$pid" == "$$" ]] && continue
    cmd=$({ tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null) || continue
    [[ "$cmd" == *kafka08-test-* ]] || continue
    # kafka08-test-<prefix>-<pid>-<n>-<nanos>: the owner pid is third from the end.
    owner=$(grep -o 'kafka08-test-[^/ ]*' <<<"$cmd" | head -n1 | awk -F- '{print $(NF-2)}')
    [[ "$owner" =~ ^[0-9]+$ ]] || continue
    alive "$owner" && continue
    report "process $pid of test process $owner (gone): ${cmd:0:160}"
    if $clean; then
        kill -CONT "$pid" 2>/dev/null || true
        kill -KILL "$pid" 2>/dev/null || true
    fi
done

if ((found)) && $clean; then
    echo "leftovers.sh: removed the leftovers above"
fi
exit "$found"
