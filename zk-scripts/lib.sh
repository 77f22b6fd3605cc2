# Shared helpers for zk-scripts/*.sh and bin/zookeeper-*.sh. Source it; do not run it.
#
# Everything here runs the Debian `zookeeper` package (3.8) straight from its jars, without
# /etc, systemd or zkServer.sh (whose env script hard-codes /etc/zookeeper/conf and
# /var/log/zookeeper). See docs/architecture.md, running ZooKeeper, for the facts behind the
# numbers below.

ZK_JAR=${ZK_JAR:-/usr/share/java/zookeeper.jar}
# The jar's manifest names all its dependencies, so it is the whole classpath; Debian puts
# no slf4j binding on it, so add one: simple (logs to stderr) for servers, nop for the CLI.
ZK_SERVER_CP="$ZK_JAR:/usr/share/java/slf4j-simple.jar"
ZK_CLI_CP="$ZK_JAR:/usr/share/java/slf4j-nop.jar"
# About 65 MB RSS per node; a 64 MB heap is enough for tests, 256 MB leaves headroom.
ZK_JVM_OPTS=${ZK_JVM_OPTS:--Xms32m -Xmx256m -XX:+UseSerialGC}
# Standalone serves in ~0.4 s and an ensemble in ~1.8 s on an idle machine; a loaded CI box
# with two cores compiling Rust beside us can be ten times slower.
ZK_START_TIMEOUT=${ZK_START_TIMEOUT:-60}
# SIGTERM stops a node in 0.4-2.2 s; after this many seconds we send SIGKILL.
ZK_STOP_TIMEOUT=${ZK_STOP_TIMEOUT:-10}

zk_die() {
    echo "error: $*" >&2
    exit 1
}

zk_java() {
    if [[ -n "${JAVA_HOME:-}" ]]; then
        echo "$JAVA_HOME/bin/java"
    else
        echo java
    fi
}

zk_require_installed() {
    command -v "$(zk_java)" >/dev/null 2>&1 || zk_die "java not found; run zk-scripts/install.sh"
    [[ -f "$ZK_JAR" ]] || zk_die "$ZK_JAR not found; run zk-scripts/install.sh"
    command -v nc >/dev/null 2>&1 || zk_die "nc not found; run zk-scripts/install.sh"
}

# zk_abs PATH: canonical absolute form of PATH (which need not exist yet), so that the
# zoo.cfg path on a server's command line is the same whichever way DIR was spelled.
zk_abs() {
    realpath -m -- "$1"
}

# zk_four_letter PORT CMD [HOST]: send a four-letter word, print the answer (empty if none).
# Exactly four bytes, no newline: ZooKeeper closes the socket after answering, and a close
# with an unread "\n" still queued sends a TCP RST that can destroy the answer before nc
# reads it (measured: `echo srvr | nc` lost ~10% of answers, `printf srvr` none of 300).
zk_four_letter() {
    printf '%s' "$2" | nc -w1 "${3:-127.0.0.1}" "$1" 2>/dev/null || true
}

# zk_mode PORT [HOST]: print the node's Mode (standalone/leader/follower) if it serves.
# `ruok` says imok before the server serves clients; only `srvr` showing a Mode is proof.
zk_mode() {
    zk_four_letter "$1" srvr "${2:-}" | sed -n 's/^Mode: *//p'
}

# zk_port_in_use PORT: true if something listens on PORT (any address, IPv4 or IPv6).
# Reads /proc instead of binding, so it needs neither python nor a compiler.
zk_port_in_use() {
    local hex
    hex=$(printf '%04X' "$1")
    # Field 2 is local_address as HEXIP:HEXPORT, field 4 the state; 0A is LISTEN.
    awk -v p="$hex" 'NR > 1 { split($2, a, ":"); if (a[2] == p && $4 == "0A") found = 1 }
                     END { exit found ? 0 : 1 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# zk_cfg_get CFG KEY: value of KEY in a zoo.cfg/.properties file (last one wins).
zk_cfg_get() {
    sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*//p" "$1" | tail -n1 | sed 's/[[:space:]]*$//'
}

# zk_pid_matches PID CFG: true if PID is alive and is the QuorumPeerMain started on CFG
# (guards against a recycled pid in a stale pid file).
zk_pid_matches() {
    local pid=$1 cfg=$2
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | grep -Fxq "$cfg"
}

# zk_launch CFG LOG PIDFILE: start QuorumPeerMain on CFG in the background (in the network
# namespace ZK_NETNS when set: `ip netns exec` execs, so the pid is the JVM's).
# If ZK_OWNER_PID is set (the test harness sets it to its own pid), a watchdog kills the
# server once that process is gone, so a test binary killed by a CI timeout leaves nothing
# behind.
zk_launch() {
    local cfg=$1 log=$2 pidfile=$3 pid java
    java=$(zk_java)
    # shellcheck disable=SC2086 # ZK_JVM_OPTS is a list of words
    local -a netns=()
    [[ -z "${ZK_NETNS:-}" ]] || netns=(ip netns exec "$ZK_NETNS")
    nohup "${netns[@]}" "$java" $ZK_JVM_OPTS -cp "$ZK_SERVER_CP" \
        org.apache.zookeeper.server.quorum.QuorumPeerMain "$cfg" >"$log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$pidfile"
    if [[ -n "${ZK_OWNER_PID:-}" ]]; then
        zk_watchdog "$ZK_OWNER_PID" "$pid" "$cfg" >/dev/null 2>&1 </dev/null &
    fi
}

zk_watchdog() {
    local owner=$1 pid=$2 cfg=$3
    while kill -0 "$owner" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do
        sleep 1
    done
    if zk_pid_matches "$pid" "$cfg"; then
        kill -9 "$pid" 2>/dev/null || true
    fi
}

# zk_wait_serving PORT PIDFILE CFG LOG [HOST]: wait until the node shows a Mode, or fail with
# the log's tail. On failure the node is killed so nothing half-started is left behind.
zk_wait_serving() {
    local port=$1 pidfile=$2 cfg=$3 log=$4 host=${5:-127.0.0.1} pid deadline mode
    pid=$(cat "$pidfile")
    deadline=$((SECONDS + ZK_START_TIMEOUT))
    while :; do
        mode=$(zk_mode "$port" "$host")
        if [[ -n "$mode" ]]; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "error: ZooKeeper ($cfg) exited before serving on port $port; last lines of $log:" >&2
            tail -n 20 "$log" >&2 || true
            rm -f "$pidfile"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            echo "error: ZooKeeper ($cfg) did not serve on $host:$port within ${ZK_START_TIMEOUT}s; last lines of $log:" >&2
            tail -n 20 "$log" >&2 || true
            kill -9 "$pid" 2>/dev/null || true
            rm -f "$pidfile"
            return 1
        fi
        sleep 0.1
    done
}
