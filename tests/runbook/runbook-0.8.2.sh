#!/usr/bin/env bash
# A Kafka 0.8.2 operations runbook, written for 0.8.2 and run unchanged against kafka08:
# create a replicated topic, check it, send and read messages with a consumer group, watch
# the group's lag, add partitions, and check that the group picks up only what is new.
#
#   ZK_CONNECT=host:port[/chroot] BROKER_LIST=host:port,... tests/runbook/runbook-0.8.2.sh
#
# Optional: KAFKA_HOME (the Kafka install; defaults to this repository), TOPIC (default
# runbook), GROUP (default runbook-group), REPLICATION_FACTOR (default 2).
# Every command is echoed (`$ ...`) before its output; the script stops at the first
# failing command.
set -euo pipefail

: "${ZK_CONNECT:?set ZK_CONNECT to the ZooKeeper connect string, e.g. localhost:2181}"
: "${BROKER_LIST:?set BROKER_LIST to the brokers, e.g. localhost:9092,localhost:9093}"
KAFKA_HOME=${KAFKA_HOME:-$(cd "$(dirname "$0")/../.." && pwd)}
TOPIC=${TOPIC:-runbook}
GROUP=${GROUP:-runbook-group}
REPLICATION_FACTOR=${REPLICATION_FACTOR:-2}
cd "$KAFKA_HOME"

step() {
    echo
    echo "### $*"
}
run() {
    echo "\$ $*"
    "$@"
}

# Wait until every partition of $TOPIC has a live leader and a full Isr: both describe
# filters of 0.8.2 print nothing. (Leader election and replica catch-up take a moment
# after --create and --alter.)
wait_for_healthy_topic() {
    local want_partitions=$1 i
    for i in $(seq 1 300); do
        if bin/kafka-topics.sh --zookeeper "$ZK_CONNECT" --describe --topic "$TOPIC" |
            grep -q "^Topic:$TOPIC	PartitionCount:$want_partitions	" &&
            [ -z "$(bin/kafka-topics.sh --zookeeper "$ZK_CONNECT" --describe --topic "$TOPIC" --unavailable-partitions)" ] &&
            [ -z "$(bin/kafka-topics.sh --zookeeper "$ZK_CONNECT" --describe --topic "$TOPIC" --under-replicated-partitions)" ]; then
            return 0
        fi
        sleep 0.2
    done
    echo "topic $TOPIC not healthy after 60 s" >&2
    return 1
}

produce() {
    echo "\$ printf '$(printf '%s\\n' "$@")' | bin/kafka-console-producer.sh --broker-list $BROKER_LIST --topic $TOPIC --sync --request-required-acks -1 --message-send-max-retries 10 --retry-backoff-ms 500"
    printf '%s\n' "$@" | bin/kafka-console-producer.sh --broker-list "$BROKER_LIST" --topic "$TOPIC" \
        --sync --request-required-acks -1 --message-send-max-retries 10 --retry-backoff-ms 500
}

step "1. Create the topic: 2 partitions, replication factor $REPLICATION_FACTOR"
run bin/kafka-topics.sh --zookeeper "$ZK_CONNECT" --create --topic "$TOPIC" --partitions 2 --replication-factor "$REPLICATION_FACTOR"
wait_for_healthy_topic 2
run bin/kafka-topics.sh --zookeeper "$ZK_CONNECT" --list

step "2. Describe it"
run bin/kafka-topics.sh --zookeeper "$ZK_CONNECT" --describe --topic "$TOPIC"

step "3. Produce 6 messages"
produce "message 1" "message 2" "message 3" "message 4" "message 5" "message 6"

step "4. Consume them with group $GROUP"
run bin/kafka-console-consumer.sh --zookeeper "$ZK_CONNECT" --topic "$TOPIC" --group "$GROUP" --from-beginning --max-messages 6

step "5. The group's offsets: no lag"
run bin/kafka-run-class.sh kafka.tools.ConsumerOffsetChecker --zookeeper "$ZK_CONNECT" --group "$GROUP"

step "6. Produce 4 more: the group lags by 4"
produce "message 7" "message 8" "message 9" "message 10"
run bin/kafka-run-class.sh kafka.tools.ConsumerOffsetChecker --zookeeper "$ZK_CONNECT" --group "$GROUP"

step "7. Add partitions: 2 -> 4"
run bin/kafka-topics.sh --zookeeper "$ZK_CONNECT" --alter --topic "$TOPIC" --partitions 4
wait_for_healthy_topic 4

step "8. Catch the group up: it reads the 4 waiting messages, and starts the new partitions at their end"
# A 0.8.2 console consumer starts a partition the group has no offset for at the log end
# (--from-beginning is refused once the group has offsets), so let the group take the new
# partitions before producing into them: read until 5 s pass without a message.
run bin/kafka-console-consumer.sh --zookeeper "$ZK_CONNECT" --topic "$TOPIC" --group "$GROUP" --consumer-timeout-ms 5000
run bin/kafka-run-class.sh kafka.tools.ConsumerOffsetChecker --zookeeper "$ZK_CONNECT" --group "$GROUP"

step "9. Produce 3 more and consume with the same group: only the new messages"
produce "message 11" "message 12" "message 13"
run bin/kafka-run-class.sh kafka.tools.ConsumerOffsetChecker --zookeeper "$ZK_CONNECT" --group "$GROUP"
run bin/kafka-console-consumer.sh --zookeeper "$ZK_CONNECT" --topic "$TOPIC" --group "$GROUP" --max-messages 3
run bin/kafka-run-class.sh kafka.tools.ConsumerOffsetChecker --zookeeper "$ZK_CONNECT" --group "$GROUP"

step "10. Describe: 4 partitions"
run bin/kafka-topics.sh --zookeeper "$ZK_CONNECT" --describe --topic "$TOPIC"

echo
echo "### runbook done"
