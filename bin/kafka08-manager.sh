#!/usr/bin/env bash
# kafka08's cluster web console, in the spirit of kafka-manager: brokers, topics, consumer
# groups, throughput and lag charts, and the topic admin actions. Served by the kafka08
# binary itself; the page is compiled in.
#
#   bin/kafka08-manager.sh --zookeeper HOST:PORT[/chroot] [--http-port 9000]
exec "$(dirname "$0")/kafka-run-class.sh" kafka08.Manager "$@"
