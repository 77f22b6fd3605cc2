#!/usr/bin/env bash
# Kafka 0.8.2's kafka-topics.sh: create, alter, list, describe and delete topics in
# ZooKeeper (kafka.admin.TopicCommand).
#
#   bin/kafka-topics.sh --zookeeper HOST:PORT[/chroot] --list
#   bin/kafka-topics.sh --zookeeper HOST:PORT --create --topic T --partitions N --replication-factor R
exec "$(dirname "$0")/kafka-run-class.sh" kafka.admin.TopicCommand "$@"
