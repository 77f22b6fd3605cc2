#!/usr/bin/env bash
# kafka-run-class.sh CLASS [args...] — as in Kafka 0.8.2, but CLASS names map to the
# tools of the kafka08 binary (kafka.tools.X, kafka.admin.X).
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "USAGE: $0 [-daemon] [-name servicename] [-loggc] classname [opts]" >&2
  exit 1
fi
. "$(dirname "$0")/kafka08-env.sh"
DAEMON=false
NAME=""
while [ $# -gt 0 ]; do
  case "$1" in
    -daemon) DAEMON=true; shift ;;
    -name) NAME="$2"; shift 2 ;;
    -loggc) shift ;;
    *) break ;;
  esac
done
CLASS="$1"; shift
BIN="$(kafka08_bin)"
if [ "$DAEMON" = true ]; then
  LOG_DIR="${LOG_DIR:-$KAFKA08_HOME/logs}"
  mkdir -p "$LOG_DIR"
  OUT="$LOG_DIR/${NAME:-$(basename "$CLASS")}.out"
  nohup "$BIN" "$CLASS" "$@" >"$OUT" 2>&1 < /dev/null &
  exit 0
fi
exec "$BIN" "$CLASS" "$@"
