#!/usr/bin/env bash
# Kafka 0.8.2's kafka-producer-perf-test.sh: send messages and print the throughput
# (kafka.tools.ProducerPerformance).
#
#   bin/kafka-producer-perf-test.sh --broker-list HOST:PORT --topics T --messages N [--message-size 100] [--batch-size 200]
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.ProducerPerformance "$@"
