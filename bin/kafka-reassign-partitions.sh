#!/usr/bin/env bash
# Kafka 0.8.2's kafka-reassign-partitions.sh: move partitions between brokers
# (kafka.admin.ReassignPartitionsCommand).
#
#   bin/kafka-reassign-partitions.sh --zookeeper HOST:PORT --generate --topics-to-move-json-file F --broker-list 1,2
#   bin/kafka-reassign-partitions.sh --zookeeper HOST:PORT --execute --reassignment-json-file F
#   bin/kafka-reassign-partitions.sh --zookeeper HOST:PORT --verify --reassignment-json-file F
exec "$(dirname "$0")/kafka-run-class.sh" kafka.admin.ReassignPartitionsCommand "$@"
