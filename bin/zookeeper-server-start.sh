#!/usr/bin/env bash
# Kafka 0.8.2's zookeeper-server-start.sh, running the real Debian ZooKeeper 3.8.
#
#   bin/zookeeper-server-start.sh [-daemon] config/zookeeper.properties
#
# As in 0.8.2: runs in the foreground unless -daemon comes first; -daemon returns at once
# and sends the console to $LOG_DIR/zookeeper.out (LOG_DIR defaults to <repo>/logs).
# KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_OPTS and JAVA_HOME are honoured.
#
# ZooKeeper 3.8 needs two keys 3.4 did not: the properties file is copied verbatim into
# $LOG_DIR/<name>.zoo.cfg with admin.enableServer=false (Debian's build cannot load the
# admin server) and 4lw.commands.whitelist=* (so `srvr`/`ruok` answer) added unless set.
# Like 0.8.2 it listens on all interfaces unless the file sets clientPortAddress.
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "USAGE: $0 [-daemon] zookeeper.properties"
    exit 1
fi
base_dir=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=zk-scripts/lib.sh
. "$base_dir/zk-scripts/lib.sh"

daemon=false
if [[ "$1" == "-daemon" ]]; then
    daemon=true
    shift
fi
[[ $# -ge 1 ]] || { echo "USAGE: $0 [-daemon] zookeeper.properties"; exit 1; }
props=$(zk_abs "$1")
[[ -f "$props" ]] || zk_die "no such file: $1"
zk_require_installed

LOG_DIR=$(zk_abs "${LOG_DIR:-$base_dir/logs}")
mkdir -p "$LOG_DIR"
cfg="$LOG_DIR/$(basename "$props" .properties).zoo.cfg"
{
    echo "# Generated from $props by bin/zookeeper-server-start.sh for ZooKeeper 3.8."
    cat "$props"
    echo
    [[ -n "$(zk_cfg_get "$props" admin.enableServer)" ]] || echo "admin.enableServer=false"
    [[ -n "$(zk_cfg_get "$props" 4lw.commands.whitelist)" ]] || echo "4lw.commands.whitelist=*"
} >"$cfg"

KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms32m -Xmx256m}
KAFKA_JVM_PERFORMANCE_OPTS=${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseSerialGC -Djava.awt.headless=true}
# The marker names the properties file on the command line, so zookeeper-server-stop.sh
# finds exactly the servers started by this script (not the ones zk-scripts/zk.sh runs).
# shellcheck disable=SC2086 # the *_OPTS variables are lists of words
set -- $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS ${KAFKA_OPTS:-} \
    "-Dkafka08.zookeeper.properties=$props" -cp "$ZK_SERVER_CP" \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$cfg"

if $daemon; then
    nohup "$(zk_java)" "$@" >"$LOG_DIR/zookeeper.out" 2>&1 </dev/null &
    # Tests set ZK_OWNER_PID so the server dies with them even if they are SIGKILLed.
    if [[ -n "${ZK_OWNER_PID:-}" ]]; then
        zk_watchdog "$ZK_OWNER_PID" "$!" "$cfg" >/dev/null 2>&1 </dev/null &
    fi
else
    exec "$(zk_java)" "$@"
fi
