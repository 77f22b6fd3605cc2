#!/usr/bin/env bash
# Bring a local kafka08 cluster up and down: one ZooKeeper and N brokers, each started with
# bin/kafka-server-start.sh from a generated server-<id>.properties, as in step 6 of Kafka
# 0.8.2's quickstart (copies of config/server.properties with broker.id, port and log.dirs
# changed), but on ports picked free at run time and in a folder of its own.
#
#   cluster.sh up [-n N] [--fixed-ports] [--hosts] [--override key=value]...
#                     start ZooKeeper and brokers 0..N-1 (N defaults to 3); returns once
#                     every broker is registered in /brokers/ids. Prints the ZooKeeper
#                     connect string and the broker list.
#   cluster.sh status every server's state; exit 0 only if ZooKeeper serves and every
#                     broker runs and is registered
#   cluster.sh env    `export ZK_CONNECT=... BROKER_LIST=...` lines, for eval
#   cluster.sh down   stop the brokers (those of `up`, and any started by hand with another
#                     config/server-<id>.properties of the folder) as bin/kafka-server-stop.sh
#                     does (SIGTERM: controlled shutdown), wait until they are gone, then
#                     stop ZooKeeper; leaves nothing running (the data stays, so `up`
#                     again finds the topics)
#
# The folder: -d DIR (before or after the command), else $KAFKA08_CLUSTER_DIR, else
# ${TMPDIR:-/tmp}/kafka08-cluster. It holds config/server-<id>.properties,
# kafka-logs-<id>/, logs/broker-<id>/kafkaServer.out, zookeeper/ (zk.sh's node folder) and
# cluster.env (the ports, sourced by status, env and down).
#
# --fixed-ports uses 0.8.2's ports instead (ZooKeeper 2181, broker <id> on 9092+<id>), so
# runbooks that say localhost:2181 and localhost:9092 run as written. --override sets a key
# in every generated server-<id>.properties.
#
# --hosts runs the cluster across N hosts (N >= 3; zk-scripts/hosts.sh, root needed): a
# 3-member ZooKeeper ensemble on h1..h3 and broker <id> on host h<id+1>, each on its host's
# address with the usual ports (ZooKeeper 2181/2888/3888, broker 9092, host.name = the
# address it registers), as on separate machines; clients here reach them over the bridge.
# `down` also removes the hosts. KAFKA08_HOSTS_TAG names the set of hosts (see hosts.sh).
#
# Environment: KAFKA08_BIN (the kafka08 binary the bin/ scripts run),
# KAFKA08_CLUSTER_START_TIMEOUT (s a broker may take to register, default 60),
# KAFKA08_CLUSTER_STOP_TIMEOUT (s a broker may take to shut down before SIGKILL, default
# 60), ZK_OWNER_PID (kill every server of this cluster once that process is gone; the test
# harness sets it).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
here="$root/zk-scripts"
# shellcheck source=zk-scripts/lib.sh
. "$here/lib.sh"

START_TIMEOUT=${KAFKA08_CLUSTER_START_TIMEOUT:-60}
STOP_TIMEOUT=${KAFKA08_CLUSTER_STOP_TIMEOUT:-60}

# usage [CODE]: the comment above; to stdout for --help (exit 0), else to stderr (exit 2).
usage() {
    local code=${1:-2}
    if [[ $code -eq 0 ]]; then
        sed -n '2,39p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    else
        sed -n '2,39p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    fi
    exit "$code"
}

die() {
    echo "cluster.sh: $*" >&2
    exit 1
}

dir=${KAFKA08_CLUSTER_DIR:-${TMPDIR:-/tmp}/kafka08-cluster}
cmd=
n=3
fixed_ports=false
on_hosts=false
overrides=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        -d | --dir)
            [[ $# -ge 2 ]] || die "$1 needs a folder"
            dir=$2
            shift 2
            ;;
        -n)
            [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || die "-n needs a number of brokers (1 or more)"
            n=$2
            shift 2
            ;;
        --fixed-ports)
            fixed_ports=true
            shift
            ;;
        --hosts)
            on_hosts=true
            shift
            ;;
        --override)
            [[ $# -ge 2 && "$2" == ?*=* ]] || die "--override needs key=value"
            overrides+=("$2")
            shift 2
            ;;
        -h | --help | help) usage 0 ;;
        up | down | status | env)
            [[ -z "$cmd" ]] || die "one command at a time (got $cmd and $1)"
            cmd=$1
            shift
            ;;
        *) echo "cluster.sh: unknown argument: $1" >&2; usage ;;
    esac
done
[[ -n "$cmd" ]] || usage
dir=$(zk_abs "$dir")
state="$dir/cluster.env"

props_of() { echo "$dir/config/server-$1.properties"; }
log_dir_of() { echo "$dir/logs/broker-$1"; }

# broker_pid ID: the pid of the broker started with server-ID.properties, if it runs (the
# same match as bin/kafka-server-stop.sh: `kafka.Kafka <that file>` on the command line,
# a relative file name taken from the process's working directory, as an operator in this
# folder starts one with `bin/kafka-server-start.sh config/server-ID.properties`).
broker_pid() {
    local want d i cfg
    want=$(readlink -m -- "$(props_of "$1")")
    local -a args
    for d in /proc/[0-9]*; do
        { mapfile -d '' -t args <"$d/cmdline"; } 2>/dev/null || continue
        for ((i = 0; i + 1 < ${#args[@]}; i++)); do
            [[ "${args[i]}" == kafka.Kafka ]] || continue
            cfg=${args[i + 1]}
            [[ "$cfg" == /* ]] || cfg="$(readlink -f "$d/cwd" 2>/dev/null)/$cfg"
            if [[ "$(readlink -m -- "$cfg")" == "$want" ]]; then
                echo "${d#/proc/}"
                return 0
            fi
        done
    done
    return 1
}

# all_ids: the brokers `up` started and any other config/server-<id>.properties in the
# folder (a broker added by hand), without repeats.
all_ids() {
    local f id
    local -A seen=()
    for id in ${BROKER_IDS:-}; do seen[$id]=1; echo "$id"; done
    for f in "$dir"/config/server-*.properties; do
        [[ -f "$f" ]] || continue
        id=${f##*/server-}
        id=${id%.properties}
        [[ "$id" =~ ^[0-9]+$ && -z "${seen[$id]:-}" ]] || continue
        seen[$id]=1
        echo "$id"
    done
}

# broker_watchdog OWNER PID ID: SIGKILL the broker once OWNER is gone (a test process
# killed without cleaning up), unless the broker went first.
broker_watchdog() {
    local owner=$1 pid=$2 id=$3
    while kill -0 "$owner" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do
        sleep 1
    done
    if [[ "$(broker_pid "$id" || true)" == "$pid" ]]; then
        kill -9 "$pid" 2>/dev/null || true
    fi
}

load_state() {
    [[ -f "$state" ]] || die "no cluster in $dir (run: zk-scripts/cluster.sh up)"
    # shellcheck source=/dev/null
    . "$state"
}

# registered_ids: the ids under /brokers/ids, space separated (empty if none or no answer).
registered_ids() {
    local out
    out=$("$here/zk-cli.sh" "$ZK_CONNECT" ls /brokers/ids 2>/dev/null | tail -n1) || true
    [[ "$out" == \[*\] ]] || return 0
    out=${out#[}
    out=${out%]}
    echo "${out//,/}"
}

# all_registered IDS...: every id is under /brokers/ids.
all_registered() {
    local have id
    have=" $(registered_ids) "
    for id in "$@"; do
        [[ "$have" == *" $id "* ]] || return 1
    done
}

# stop_brokers: SIGTERM every running broker of this cluster with bin/kafka-server-stop.sh
# (controlled shutdown), wait until all are gone, SIGKILL what is left after STOP_TIMEOUT.
stop_brokers() {
    local id pid deadline
    local -a ids=() pids=()
    for id in $(all_ids); do
        if pid=$(broker_pid "$id"); then
            "$root/bin/kafka-server-stop.sh" "$(props_of "$id")"
            ids+=("$id")
            pids+=("$pid")
        fi
    done
    deadline=$((SECONDS + STOP_TIMEOUT))
    for i in "${!ids[@]}"; do
        while [[ "$(broker_pid "${ids[$i]}" || true)" == "${pids[$i]}" ]]; do
            if ((SECONDS >= deadline)); then
                echo "warning: broker ${ids[$i]} still running ${STOP_TIMEOUT}s after SIGTERM; sending SIGKILL" >&2
                kill -9 "${pids[$i]}" 2>/dev/null || true
            fi
            sleep 0.1
        done
        echo "stopped broker ${ids[$i]} (pid ${pids[$i]})"
    done
}

stop_all() {
    stop_brokers
    if [[ -f "$dir/zookeeper/zoo.cfg" || -f "$dir/zookeeper/1/zoo.cfg" ]]; then
        "$here/zk.sh" stop "$dir/zookeeper" | sed 's/^stopped .*/stopped ZooKeeper/' | sort -u
    fi
    if [[ -n "${HOSTS_TAG:-}" ]]; then
        KAFKA08_HOSTS_TAG=$HOSTS_TAG "$here/hosts.sh" down >/dev/null
        echo "removed the hosts"
    fi
}

# host_addr N: the address of host hN.
host_addr() {
    KAFKA08_HOSTS_TAG=$HOSTS_TAG "$here/hosts.sh" addr "h$1"
}

# write_props ID PORT [HOST]: server-ID.properties from config/server.properties, serving
# and registering on HOST (default 127.0.0.1).
write_props() {
    local id=$1 port=$2 host=${3:-127.0.0.1} props kv key
    props=$(props_of "$id")
    sed -e "s|^broker.id=.*|broker.id=$id|" -e "s|^port=.*|port=$port|" \
        -e "s|^log.dirs=.*|log.dirs=$dir/kafka-logs-$id|" -e "s|^zookeeper.connect=.*|zookeeper.connect=$ZK_CONNECT|" \
        "$root/config/server.properties" >"$props"
    {
        echo
        if [[ "$host" == 127.0.0.1 ]]; then
            echo "# Added by zk-scripts/cluster.sh: serve and register on loopback."
        else
            echo "# Added by zk-scripts/cluster.sh: serve and register on this host's address."
        fi
        echo "host.name=$host"
    } >>"$props"
    for kv in "${overrides[@]}"; do
        key=${kv%%=*}
        # The last value of a key wins in a .properties file; drop the earlier one anyway
        # so the file reads as what runs.
        sed -i "/^[[:space:]]*${key//./\\.}[[:space:]]*=/d" "$props"
        echo "$kv" >>"$props"
    done
}

# wait_started ID PID: wait until the broker logs that it started, or fail with its log's tail.
wait_started() {
    local id=$1 pid=$2 out deadline
    out="$(log_dir_of "$id")/kafkaServer.out"
    deadline=$((SECONDS + START_TIMEOUT))
    until grep -q "], started (" "$out" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "cluster.sh: broker $id exited during start-up; last lines of $out:" >&2
            tail -n 20 "$out" >&2 || true
            return 1
        fi
        if ((SECONDS >= deadline)); then
            echo "cluster.sh: broker $id did not start within ${START_TIMEOUT}s; last lines of $out:" >&2
            tail -n 20 "$out" >&2 || true
            return 1
        fi
        sleep 0.1
    done
}

cmd_up() {
    zk_require_installed
    if [[ -f "$state" ]]; then
        # shellcheck source=/dev/null
        . "$state"
        local id
        for id in ${BROKER_IDS:-}; do
            broker_pid "$id" >/dev/null && die "a cluster is already up in $dir (broker $id runs); run: zk-scripts/cluster.sh down"
        done
    fi
    local -a ports hosts_addr=()
    local id zk_port
    HOSTS_TAG=
    if $on_hosts; then
        $fixed_ports && die "--hosts and --fixed-ports do not go together (on hosts every port is 0.8.2's)"
        ((n >= 3)) || die "--hosts needs 3 or more brokers (the ensemble runs on h1..h3)"
        HOSTS_TAG=${KAFKA08_HOSTS_TAG:-0}
        KAFKA08_HOSTS_OWNER=${ZK_OWNER_PID:-} KAFKA08_HOSTS_TAG=$HOSTS_TAG "$here/hosts.sh" up "$n" >/dev/null ||
            die "cannot make the hosts (zk-scripts/hosts.sh up $n)"
        for ((id = 0; id < n; id++)); do
            hosts_addr+=("$(host_addr $((id + 1)))")
            ports+=(9092)
        done
        zk_port=2181
    elif $fixed_ports; then
        zk_port=2181
        for ((id = 0; id < n; id++)); do ports+=($((9092 + id))); done
        for p in "$zk_port" "${ports[@]}"; do
            zk_port_in_use "$p" && die "port $p is already in use"
        done
    else
        mapfile -t ports < <("$here/free-port.sh" $((n + 1)))
        zk_port=${ports[$n]}
    fi
    mkdir -p "$dir/config" "$dir/logs"
    if $on_hosts; then
        ZK_CONNECT="${hosts_addr[0]}:2181,${hosts_addr[1]}:2181,${hosts_addr[2]}:2181"
    else
        ZK_CONNECT="127.0.0.1:$zk_port"
    fi
    BROKER_IDS=$(seq -s ' ' 0 $((n - 1)))
    local list=()
    for ((id = 0; id < n; id++)); do list+=("${hosts_addr[$id]:-127.0.0.1}:${ports[$id]}"); done
    BROKER_LIST=$(IFS=,; echo "${list[*]}")
    {
        echo "# Written by zk-scripts/cluster.sh up; read by status, env and down."
        echo "ZK_CONNECT=$ZK_CONNECT"
        echo "BROKER_LIST=$BROKER_LIST"
        echo "BROKER_IDS=\"$BROKER_IDS\""
        echo "HOSTS_TAG=$HOSTS_TAG"
    } >"$state"

    # From here on, a failure stops whatever was started.
    trap 'rc=$?; if [[ $rc -ne 0 ]]; then stop_all >/dev/null 2>&1 || true; fi' EXIT
    if $on_hosts; then
        "$here/zk.sh" start-ensemble --addresses "$(IFS=,; echo "${hosts_addr[*]:0:3}")" \
            --netns "k08-$HOSTS_TAG-h1,k08-$HOSTS_TAG-h2,k08-$HOSTS_TAG-h3" \
            "$dir/zookeeper" 2181,2181,2181 2888,2888,2888 3888,3888,3888 >/dev/null
    else
        "$here/zk.sh" start "$dir/zookeeper" "$zk_port" >/dev/null
    fi
    local -a pids=()
    local pid
    for ((id = 0; id < n; id++)); do
        write_props "$id" "${ports[$id]}" "${hosts_addr[$id]:-127.0.0.1}"
        mkdir -p "$(log_dir_of "$id")"
        : >"$(log_dir_of "$id")/kafkaServer.out"
        if $on_hosts; then
            LOG_DIR=$(log_dir_of "$id") KAFKA08_HOSTS_TAG=$HOSTS_TAG "$here/hosts.sh" exec "h$((id + 1))" \
                "$root/bin/kafka-server-start.sh" -daemon "$(props_of "$id")"
        else
            LOG_DIR=$(log_dir_of "$id") "$root/bin/kafka-server-start.sh" -daemon "$(props_of "$id")"
        fi
    done
    for ((id = 0; id < n; id++)); do
        local deadline=$((SECONDS + 10))
        until pid=$(broker_pid "$id"); do
            ((SECONDS < deadline)) || die "broker $id did not start; see $(log_dir_of "$id")/kafkaServer.out"
            sleep 0.05
        done
        pids+=("$pid")
        if [[ -n "${ZK_OWNER_PID:-}" ]]; then
            broker_watchdog "$ZK_OWNER_PID" "$pid" "$id" >/dev/null 2>&1 </dev/null &
        fi
    done
    for ((id = 0; id < n; id++)); do
        wait_started "$id" "${pids[$id]}" || exit 1
    done
    # The brokers log "started" after registering; check ZooKeeper itself all the same.
    local deadline=$((SECONDS + START_TIMEOUT))
    # shellcheck disable=SC2086 # BROKER_IDS is a list of words
    until all_registered $BROKER_IDS; do
        ((SECONDS < deadline)) || die "brokers not all registered in /brokers/ids within ${START_TIMEOUT}s (have: $(registered_ids))"
        sleep 0.5
    done
    trap - EXIT
    if $on_hosts; then
        echo "ZooKeeper ensemble $ZK_CONNECT, $n brokers registered in /brokers/ids: [$(registered_ids | sed 's/ /, /g')] ($dir)"
    else
        echo "ZooKeeper 127.0.0.1:$zk_port, $n brokers registered in /brokers/ids: [$(registered_ids | sed 's/ /, /g')] ($dir)"
    fi
    for ((id = 0; id < n; id++)); do
        echo "broker $id ${hosts_addr[$id]:-127.0.0.1}:${ports[$id]}${hosts_addr[$id]:+ on h$((id + 1))} pid ${pids[$id]} $(props_of "$id")"
    done
    echo "zookeeper.connect=$ZK_CONNECT"
    echo "metadata.broker.list=$BROKER_LIST"
}

cmd_status() {
    load_state
    local ok=0 id pid zk_line have
    if zk_line=$("$here/zk.sh" status "$dir/zookeeper" 2>/dev/null); then
        echo "ZooKeeper $ZK_CONNECT serving (${zk_line##*Mode: })"
        have=" $(registered_ids) "
    else
        echo "ZooKeeper $ZK_CONNECT not running"
        have=" "
        ok=1
    fi
    local -a addrs
    IFS=, read -r -a addrs <<<"$BROKER_LIST"
    local i=0
    for id in $BROKER_IDS; do
        local addr=${addrs[$i]:-?}
        i=$((i + 1))
        if pid=$(broker_pid "$id"); then
            if [[ "$have" == *" $id "* ]]; then
                echo "broker $id $addr running (pid $pid), registered"
            else
                echo "broker $id $addr running (pid $pid), not registered"
                ok=1
            fi
        else
            echo "broker $id $addr not running"
            ok=1
        fi
    done
    return "$ok"
}

cmd_env() {
    load_state
    echo "export ZK_CONNECT=$ZK_CONNECT"
    echo "export BROKER_LIST=$BROKER_LIST"
}

cmd_down() {
    if [[ ! -f "$state" ]]; then
        echo "no cluster in $dir"
        return 0
    fi
    load_state
    stop_all
    echo "cluster down ($dir; data kept)"
}

case "$cmd" in
    up) cmd_up ;;
    status) cmd_status ;;
    env) cmd_env ;;
    down) cmd_down ;;
esac
