#!/usr/bin/env bash
# Kafka 0.8.2's zookeeper-server-stop.sh: stop the ZooKeeper servers that
# bin/zookeeper-server-start.sh started.
#
#   bin/zookeeper-server-stop.sh [zookeeper.properties]
#
# 0.8.2 signalled every QuorumPeerMain and returned. This sends SIGTERM only to the
# servers started by bin/zookeeper-server-start.sh (all of them, or only the one started
# with the given properties file), then waits until they are gone (SIGKILL after
# ZK_STOP_TIMEOUT seconds, default 10) so the port is free when it returns.
# Exits 1 with "No zookeeper server to stop" when there is none.
# Not SIGINT: a JVM started in the background by a non-interactive shell (-daemon) inherits
# SIGINT as ignored and would never stop.
set -euo pipefail

base_dir=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=zk-scripts/lib.sh
. "$base_dir/zk-scripts/lib.sh"

want=
if [[ $# -ge 1 ]]; then
    want="-Dkafka08.zookeeper.properties=$(zk_abs "$1")"
fi

# matches PID: true if PID is a QuorumPeerMain started by zookeeper-server-start.sh
# (with the wanted properties file, when one was given).
matches() {
    local args
    args=$(tr '\0' '\n' 2>/dev/null <"/proc/$1/cmdline") || return 1
    [[ "$args" == *QuorumPeerMain* ]] || return 1
    grep -Fxq org.apache.zookeeper.server.quorum.QuorumPeerMain <<<"$args" || return 1
    if [[ -n "$want" ]]; then
        grep -Fxq -- "$want" <<<"$args"
    else
        grep -q '^-Dkafka08\.zookeeper\.properties=' <<<"$args"
    fi
}

pids=()
for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    if matches "$pid"; then
        pids+=("$pid")
    fi
done
if [[ ${#pids[@]} -eq 0 ]]; then
    echo "No zookeeper server to stop"
    exit 1
fi

echo "${pids[*]} given SIGTERM"
kill -TERM "${pids[@]}" 2>/dev/null || true
deadline=$((SECONDS + ZK_STOP_TIMEOUT))
while :; do
    alive=()
    for pid in "${pids[@]}"; do
        # A zombie has an empty cmdline, so it no longer matches: it is gone.
        if matches "$pid"; then alive+=("$pid"); fi
    done
    [[ ${#alive[@]} -gt 0 ]] || break
    if ((SECONDS >= deadline)); then
        echo "${alive[*]} still running after ${ZK_STOP_TIMEOUT}s, given SIGKILL"
        kill -KILL "${alive[@]}" 2>/dev/null || true
        deadline=$((SECONDS + 5))
    fi
    sleep 0.05
done
