#!/usr/bin/env bash
# Install what kafka08 needs to run and test, when it is missing (Debian/Ubuntu, apt):
#   zookeeper (3.8, the real server and CLI jars), netcat-openbsd (readiness checks with
#   `srvr`), kcat (the librdkafka CLI, a foreign 0.8 client), and default-jre-headless only
#   when there is no java at all (the package's recommends would pull a desktop JRE).
# Idempotent: when everything is present it only checks, and returns in milliseconds.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=zk-scripts/lib.sh
. "$here/lib.sh"

missing=()
[[ -f "$ZK_JAR" && -f /usr/share/java/slf4j-simple.jar && -f /usr/share/java/slf4j-nop.jar ]] ||
    missing+=(zookeeper)
command -v nc >/dev/null 2>&1 || missing+=(netcat-openbsd)
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
command -v "$(zk_java)" >/dev/null 2>&1 || missing+=(default-jre-headless)

# The foreign Python clients of the interop tests (and the Prometheus text parser of the
# metrics tests) live in the project's own venv.
install_python_clients() {
    local venv="$here/../.venv"
    # prometheus-client: the Prometheus project's own exposition parser judges /metrics.
    local want="kafka-python==3.0.12 pykafka==2.8.0 prometheus-client==0.21.1"
    if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c 'import kafka, pykafka, kazoo, prometheus_client' >/dev/null 2>&1; then
        return 0
    fi
    command -v python3 >/dev/null 2>&1 || zk_die "python3 is needed for the interop tests"
    echo "install.sh: creating $venv with $want"
    python3 -m venv "$venv" || { apt-get install -y -qq --no-install-recommends python3-venv && python3 -m venv "$venv"; }
    "$venv/bin/pip" install -q --disable-pip-version-check $want
}

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install.sh: zookeeper, nc, kcat and java are present"
    install_python_clients
    exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || zk_die "need root (or sudo) to install: ${missing[*]}"
    sudo=(sudo)
fi
command -v apt-get >/dev/null 2>&1 || zk_die "no apt-get; install these yourself: ${missing[*]}"

echo "install.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_python_clients
echo "install.sh: done"
