#!/usr/bin/env bash
# The kafka08 quickstart: Kafka 0.8.2's quickstart walkthrough, each command printed with
# its output. Start ZooKeeper; start a broker; create `test`; send two messages with the
# console producer; read them with the console consumer; start two more brokers; create
# `my-replicated-topic` with replication factor 3; describe it; kill the leader; describe
# it again (new leader, smaller Isr); consume the messages again.
#
# Ports are picked free at run time and everything lives in a temporary folder.
# KAFKA08_BIN runs a given kafka08 binary instead of building target/release/kafka08.
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
        for props in "$work"/server-*.properties; do
            [[ -f "$props" ]] && ./bin/kafka-server-stop.sh "$props" >/dev/null 2>&1 || true
        done
        for props in "$work"/server-*.properties; do
            [[ -f "$props" ]] || continue
            for _ in $(seq 1 100); do
                pgrep -f "kafka.Kafka $props" >/dev/null || break
                sleep 0.1
            done
            pkill -9 -f "kafka.Kafka $props" 2>/dev/null || true
        done
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

# wait_for WHAT SECONDS CMD...: poll CMD until it succeeds.
wait_for() {
    local what=$1 secs=$2 i
    shift 2
    for ((i = 0; i < secs * 10; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "timed out after ${secs}s waiting for $what" >&2
    return 1
}

# start_broker ID: server-ID.properties from config/server.properties, then start it.
start_broker() {
    local id=$1 port props
    port=$(./zk-scripts/free-port.sh)
    props="$work/server-$id.properties"
    sed -e "s|^broker.id=.*|broker.id=$id|" -e "s|^port=.*|port=$port|" \
        -e "s|^log.dirs=.*|log.dirs=$work/kafka-logs-$id|" -e "s|^zookeeper.connect=.*|zookeeper.connect=$zk|" \
        config/server.properties >"$props"
    echo "host.name=127.0.0.1" >>"$props"
    echo "\$ cp config/server.properties $props   # broker.id=$id, port=$port, log.dirs=$work/kafka-logs-$id"
    run env LOG_DIR="$work/logs-$id" ./bin/kafka-server-start.sh -daemon "$props"
    wait_for "broker $id to register" 60 grep -q "], started (" "$work/logs-$id/kafkaServer.out"
    eval "port_$id=$port"
}

leader_of() {
    ./bin/kafka-topics.sh --zookeeper "$zk" --describe --topic "$1" | sed -n 's/.*Leader: \([-0-9]*\).*/\1/p' | head -n1
}

step "Install what is missing (ZooKeeper 3.8, netcat, kcat, a JRE)"
run ./zk-scripts/install.sh

if [[ -z "${KAFKA08_BIN:-}" ]]; then
    step "Build kafka08"
    run cargo build --release --quiet --bin kafka08
fi

step "Start ZooKeeper (a standalone server on a free loopback port)"
work=$(mktemp -d "${TMPDIR:-/tmp}/kafka08-quickstart.XXXXXX")
zk_port=$(./zk-scripts/free-port.sh)
run ./zk-scripts/zk.sh start "$work/zookeeper" "$zk_port"
zk="127.0.0.1:$zk_port"

step "Start the Kafka server (broker 0)"
start_broker 0

step "Create a topic named test with a single partition and one replica"
run ./bin/kafka-topics.sh --create --zookeeper "$zk" --replication-factor 1 --partitions 1 --topic test
run ./bin/kafka-topics.sh --list --zookeeper "$zk"

step "Send some messages with the console producer"
echo "\$ printf 'This is a message\nThis is another message\n' | ./bin/kafka-console-producer.sh --broker-list 127.0.0.1:$port_0 --topic test"
printf 'This is a message\nThis is another message\n' | ./bin/kafka-console-producer.sh --broker-list "127.0.0.1:$port_0" --topic test

step "Start a consumer: it dumps the messages to standard output"
run ./bin/kafka-console-consumer.sh --zookeeper "$zk" --topic test --from-beginning --max-messages 2

step "Set up a multi-broker cluster: start brokers 1 and 2"
start_broker 1
start_broker 2

step "Create a new topic with a replication factor of three"
run ./bin/kafka-topics.sh --create --zookeeper "$zk" --replication-factor 3 --partitions 1 --topic my-replicated-topic
wait_for "a leader with an Isr of three" 60 bash -c "./bin/kafka-topics.sh --zookeeper '$zk' --describe --topic my-replicated-topic | grep -q 'Isr: [0-9],[0-9],[0-9]'"
run ./bin/kafka-topics.sh --describe --zookeeper "$zk" --topic my-replicated-topic

step "Publish a few messages to the new topic"
echo "\$ printf 'my test message 1\nmy test message 2\n' | ./bin/kafka-console-producer.sh --broker-list 127.0.0.1:$port_0 --topic my-replicated-topic --request-required-acks -1 --sync"
printf 'my test message 1\nmy test message 2\n' | ./bin/kafka-console-producer.sh --broker-list "127.0.0.1:$port_0" --topic my-replicated-topic --request-required-acks -1 --sync
run ./bin/kafka-console-consumer.sh --zookeeper "$zk" --from-beginning --topic my-replicated-topic --max-messages 2

step "Kill the leader (kill -9)"
leader=$(leader_of my-replicated-topic)
pid=$(pgrep -f "kafka.Kafka $work/server-$leader.properties" | head -n1)
run kill -9 "$pid"

step "Describe the topic again: a new leader, and the dead broker gone from the Isr"
wait_for "a new leader" 60 bash -c "l=\$(./bin/kafka-topics.sh --zookeeper '$zk' --describe --topic my-replicated-topic | sed -n 's/.*Leader: \([-0-9]*\).*/\1/p'); [ -n \"\$l\" ] && [ \"\$l\" != '$leader' ] && [ \"\$l\" != -1 ]"
wait_for "the Isr to shrink" 60 bash -c "./bin/kafka-topics.sh --zookeeper '$zk' --describe --topic my-replicated-topic | grep -q 'Isr: [0-9],[0-9]\$'"
run ./bin/kafka-topics.sh --describe --zookeeper "$zk" --topic my-replicated-topic

step "The messages are still available for consumption"
run ./bin/kafka-console-consumer.sh --zookeeper "$zk" --from-beginning --topic my-replicated-topic --max-messages 2

step "Stop everything"
echo "(the brokers with bin/kafka-server-stop.sh, then ZooKeeper; nothing is left running)"
echo
echo "Quickstart done."
