#!/usr/bin/env bash
# Kafka 0.8.2's kafka-simple-consumer-perf-test.sh: read one partition from one broker with
# plain fetches and print the throughput (kafka.tools.SimpleConsumerPerformance).
#
#   bin/kafka-simple-consumer-perf-test.sh --server kafka://HOST:PORT --topic T [--partition 0]
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.SimpleConsumerPerformance "$@"
