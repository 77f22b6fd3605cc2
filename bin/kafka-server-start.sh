#!/usr/bin/env bash
# Kafka 0.8.2's kafka-server-start.sh: run a broker (kafka.Kafka) with a server.properties.
#
#   bin/kafka-server-start.sh [-daemon] config/server.properties
#
# In the foreground unless -daemon is given; -daemon returns at once and sends the console
# to $LOG_DIR/kafkaServer.out (LOG_DIR defaults to <repo>/logs). 0.8.2 took -daemon only as
# the first argument; kafka08 also takes it last. The JVM variables 0.8.2 set here
# (KAFKA_HEAP_OPTS, KAFKA_LOG4J_OPTS) mean nothing to the kafka08 binary.
usage() {
    echo "USAGE: $0 [-daemon] server.properties"
    exit 1
}
if [ $# -lt 1 ]; then
    usage
fi
base_dir=$(dirname "$0")

EXTRA_ARGS="-name kafkaServer -loggc"
if [ "$1" = "-daemon" ]; then
    EXTRA_ARGS="-daemon $EXTRA_ARGS"
    shift
elif [ "${!#}" = "-daemon" ]; then
    EXTRA_ARGS="-daemon $EXTRA_ARGS"
    set -- "${@:1:$(($# - 1))}"
fi
if [ $# -lt 1 ]; then
    usage
fi

# shellcheck disable=SC2086 # EXTRA_ARGS is a list of words
exec "$base_dir/kafka-run-class.sh" $EXTRA_ARGS kafka.Kafka "$@"
