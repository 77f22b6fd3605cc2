#!/usr/bin/env bash
# Kafka 0.8.2's kafka-replay-log-producer.sh: replay the messages of one topic into another
# (kafka.tools.ReplayLogProducer).
#
#   bin/kafka-replay-log-producer.sh [--zookeeper HOST:PORT] --broker-list H:P[,H:P] --inputtopic A --outputtopic B
#                                    [--messages N] [--threads N] [--property k=v]... [--sync]
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.ReplayLogProducer "$@"
