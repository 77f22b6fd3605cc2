#!/usr/bin/env bash
# Kafka 0.8.2's kafka-server-stop.sh: SIGTERM to every broker on this machine, i.e. every
# process running `kafka08 kafka.Kafka ...` (0.8.2: `ps ax | grep -i 'kafka\.Kafka' | grep
# java | ... | xargs kill -SIGTERM`). The broker then shuts down cleanly (controlled shutdown
# first). Returns at once, without waiting for the brokers to exit, as 0.8.2 did; exits 0.
#
#   bin/kafka-server-stop.sh [server.properties]
#
# kafka08 extensions: with a properties file, only the broker started with that file is
# signalled; with KAFKA08_BIN set, only brokers run by that binary are.
set -uo pipefail

want=""
if [ $# -ge 1 ]; then
    want=$(readlink -f -- "$1" 2>/dev/null || printf '%s' "$1")
fi
bin_filter=""
if [ -n "${KAFKA08_BIN:-}" ]; then
    bin_filter=$(readlink -f -- "$KAFKA08_BIN" 2>/dev/null || printf '%s' "$KAFKA08_BIN")
fi

# is_broker PID: the process runs `<kafka08> kafka.Kafka [config ...]` (matching the
# wanted binary and properties file, when given).
is_broker() {
    local d=/proc/$1 i exe cfg
    local -a args=()
    # A process may exit while we look: silence the shell's own redirection error too.
    { mapfile -d '' -t args <"$d/cmdline"; } 2>/dev/null || return 1
    for ((i = 0; i + 1 < ${#args[@]}; i++)); do
        [ "${args[i + 1]}" = kafka.Kafka ] || continue
        exe=${args[i]}
        if [ -n "$bin_filter" ]; then
            case "$exe" in /*) ;; *) exe="$(readlink -f "$d/cwd" 2>/dev/null)/$exe" ;; esac
            exe=$(readlink -f -- "$exe" 2>/dev/null || printf '%s' "$exe")
            [ "$exe" = "$bin_filter" ] || continue
        else
            [ "$(basename -- "$exe")" = kafka08 ] || continue
        fi
        if [ -n "$want" ]; then
            cfg=${args[i + 2]:-}
            [ -n "$cfg" ] || continue
            case "$cfg" in /*) ;; *) cfg="$(readlink -f "$d/cwd" 2>/dev/null)/$cfg" ;; esac
            cfg=$(readlink -f -- "$cfg" 2>/dev/null || printf '%s' "$cfg")
            [ "$cfg" = "$want" ] || continue
        fi
        return 0
    done
    return 1
}

pids=()
for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [ "$pid" = "$$" ] && continue
    if is_broker "$pid"; then
        pids+=("$pid")
    fi
done
if [ ${#pids[@]} -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null
fi
exit 0
