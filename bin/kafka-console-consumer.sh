#!/usr/bin/env bash
# Kafka 0.8.2's kafka-console-consumer.sh: a high-level consumer printing one message per line.
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.ConsoleConsumer "$@"
