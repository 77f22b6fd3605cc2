#!/usr/bin/env bash
# Kafka 0.8.2's kafka-preferred-replica-election.sh: move leadership back to each
# partition's preferred replica (kafka.admin.PreferredReplicaLeaderElectionCommand).
#
#   bin/kafka-preferred-replica-election.sh --zookeeper HOST:PORT [--path-to-json-file F]
exec "$(dirname "$0")/kafka-run-class.sh" kafka.admin.PreferredReplicaLeaderElectionCommand "$@"
