#!/usr/bin/env bash
# Kafka 0.8.2's kafka-console-producer.sh: one message per line of stdin.
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.ConsoleProducer "$@"
