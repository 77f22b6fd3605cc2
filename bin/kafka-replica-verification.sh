#!/usr/bin/env bash
# Kafka 0.8.2's kafka-replica-verification.sh: compare every replica of a set of topics.
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.ReplicaVerificationTool "$@"
