#!/usr/bin/env bash
# The kafka08 quickstart, as a sequence of printed steps: each command is shown with its
# output. Today: install what is missing, start a real ZooKeeper on a free port in a
# temporary folder, show it serving, stop it. Later steps (brokers, topics, produce,
# consume) will be added here in the order of Kafka 0.8.2's quickstart.
#
# Leaves nothing behind: a trap on EXIT stops every server it started and removes the
# temporary folder, also when a step fails or on Ctrl-C.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

step_no=0
step() {
    step_no=$((step_no + 1))
    echo
    echo "=== Step $step_no: $*"
}
# show_cmd CMD...: print the command as one would type it.
show_cmd() {
    local out="\$" a
    for a in "$@"; do
        if [[ "$a" =~ ^[A-Za-z0-9_./:,=@%+-]+$ ]]; then out+=" $a"; else out+=" '$a'"; fi
    done
    echo "$out"
}
# run CMD...: print the command, then run it (its output follows).
run() {
    show_cmd "$@"
    "$@"
}

# run_cli CMD...: print the command, run it and show its answer (the CLI's last line; the
# lines before it are connection chatter).
run_cli() {
    show_cmd "$@"
    local out rc=0
    out=$("$@" 2>&1) || rc=$?
    echo "$out" | tail -n1
    return "$rc"
}

work=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$work" && -d "$work" ]]; then
        ./zk-scripts/zk.sh stop --kill "$work/zookeeper" >/dev/null 2>&1 || true
        rm -rf "$work"
    fi
    if [[ $rc -ne 0 ]]; then
        echo
        echo "quickstart FAILED at step $step_no (exit $rc); everything it started is stopped." >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "Install what is missing (ZooKeeper 3.8, netcat, kcat, a JRE)"
run ./zk-scripts/install.sh

step "Start a standalone ZooKeeper on a free loopback port"
work=$(mktemp -d "${TMPDIR:-/tmp}/kafka08-quickstart.XXXXXX")
zk_port=$(./zk-scripts/free-port.sh)
run ./zk-scripts/zk.sh start "$work/zookeeper" "$zk_port"
zk="127.0.0.1:$zk_port"

step "Ask it how it is: the srvr four-letter word"
echo "\$ printf srvr | nc -w1 127.0.0.1 $zk_port"
printf srvr | nc -w1 127.0.0.1 "$zk_port"

step "Use it with the ZooKeeper CLI (bin/zookeeper-shell.sh, as in Kafka 0.8.2)"
run_cli ./bin/zookeeper-shell.sh "$zk" ls /
run_cli ./bin/zookeeper-shell.sh "$zk" create /kafka08-quickstart "hello from kafka08"
run_cli ./bin/zookeeper-shell.sh "$zk" get /kafka08-quickstart
run_cli ./bin/zookeeper-shell.sh "$zk" ls /

step "Status of the node"
run ./zk-scripts/zk.sh status "$work/zookeeper"

step "Stop ZooKeeper"
run ./zk-scripts/zk.sh stop "$work/zookeeper"
if ./zk-scripts/zk.sh status "$work/zookeeper" >/dev/null 2>&1; then
    echo "error: ZooKeeper still serving after stop" >&2
    exit 1
fi
echo "ZooKeeper on port $zk_port is stopped."

echo
echo "Quickstart done: nothing is left running."
