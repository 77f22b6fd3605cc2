#!/usr/bin/env bash
# Kafka 0.8.2's kafka-mirror-maker.sh: copy topics from a source cluster to a target cluster.
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.MirrorMaker "$@"
