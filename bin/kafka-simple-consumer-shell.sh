#!/usr/bin/env bash
# Kafka 0.8.2's kafka-simple-consumer-shell.sh: fetch one partition straight from one replica.
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.SimpleConsumerShell "$@"
