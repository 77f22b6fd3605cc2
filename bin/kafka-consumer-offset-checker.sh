#!/usr/bin/env bash
# Kafka 0.8.2's kafka-consumer-offset-checker.sh: a consumer group's offsets, log sizes and
# lag per partition (kafka.tools.ConsumerOffsetChecker); lag scripts sum its sixth column.
#
#   bin/kafka-consumer-offset-checker.sh --zookeeper HOST:PORT --group G [--topic T]
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.ConsumerOffsetChecker "$@"
