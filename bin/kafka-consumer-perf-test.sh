#!/usr/bin/env bash
# Kafka 0.8.2's kafka-consumer-perf-test.sh: read a topic with the high-level (ZooKeeper)
# consumer and print the throughput (kafka.tools.ConsumerPerformance).
#
#   bin/kafka-consumer-perf-test.sh --zookeeper HOST:PORT --topic T [--messages N] [--threads 10]
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.ConsumerPerformance "$@"
