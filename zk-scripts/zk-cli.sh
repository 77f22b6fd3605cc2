#!/usr/bin/env bash
# Run the ZooKeeper CLI (org.apache.zookeeper.ZooKeeperMain) against one server.
#
#   zk-cli.sh HOST:PORT[/chroot] [command...]    e.g. zk-cli.sh 127.0.0.1:2181 ls /
#   echo 'create /a x' | zk-cli.sh HOST:PORT     commands from stdin, one per line
#
# Logging is silenced (slf4j-nop). With a command the exit code is the command's (0 ok,
# 1 failed, e.g. "Node does not exist"); the answer is the last line of stdout. Point it at
# one live server: with a multi-host list where a host is down it sometimes fails.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=zk-scripts/lib.sh
. "$here/lib.sh"

if [[ $# -lt 1 || "$1" == -h || "$1" == --help ]]; then
    sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
server=$1
shift
command -v "$(zk_java)" >/dev/null 2>&1 || zk_die "java not found; run zk-scripts/install.sh"
[[ -f "$ZK_JAR" ]] || zk_die "$ZK_JAR not found; run zk-scripts/install.sh"
# shellcheck disable=SC2086 # ZK_CLI_JVM_OPTS is a list of words
exec "$(zk_java)" ${ZK_CLI_JVM_OPTS:--Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1} \
    -cp "$ZK_CLI_CP" org.apache.zookeeper.ZooKeeperMain -server "$server" "$@"
