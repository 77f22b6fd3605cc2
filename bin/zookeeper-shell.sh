#!/usr/bin/env bash
# Kafka 0.8.2's zookeeper-shell.sh: the ZooKeeper CLI (ZooKeeperMain) from the Debian jars.
#
#   bin/zookeeper-shell.sh zookeeper_host:port[/path] [args...]
#
# With args it runs that one command and exits with its status; without, it reads
# commands from stdin.
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "USAGE: $0 zookeeper_host:port[/path] [args...]"
    exit 1
fi
exec "$(dirname "$0")/../zk-scripts/zk-cli.sh" "$@"
