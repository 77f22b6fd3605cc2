#!/usr/bin/env bash
# Hosts on one machine: network namespaces, each with an address of its own on a private
# bridge, so that brokers and ZooKeeper members run as on separate machines and a test can
# partition the network between them. Needs root (network namespaces, nftables).
#
#   hosts.sh up N            hosts h1..hN (adds the missing ones; running it again is a no-op)
#   hosts.sh down            kill every process in our hosts, remove the namespaces, veths
#                            and the bridge (and with them every rule); a no-op when none
#   hosts.sh exec HOST CMD...  run CMD in HOST's network namespace (HOST: h3 or 3)
#   hosts.sh addr HOST       print HOST's address
#   hosts.sh list            one line per host: name, namespace, address
#   hosts.sh add HOST        add one host, e.g. h4 (a new machine; up N would also bring
#                            back hosts removed below it)
#   hosts.sh remove HOST     kill HOST's processes and remove it (a machine that died)
#   hosts.sh sweep           take down every set of hosts whose owner process is gone
#
# A set of hosts is named by a tag, KAFKA08_HOSTS_TAG (default 0; up to 7 of [0-9a-z]):
# bridge k08br<TAG>, namespaces k08-<TAG>-h<n>, root-side veths k08v<TAG>h<n>, and inside
# each namespace the link eth0 and the nftables table `inet kafka08` (chains input and
# output, empty: faults add rules there, so removing the namespace removes them).
# Addresses: tag 0 takes 10.208.0.0/24, another tag the first free 10.208.X.0/24; the root
# namespace is .1 on the bridge (clients there reach every host), host n is .(10+n).
# Nothing else is touched: no forwarding, no NAT, no rule in the root namespace.
#
# Environment: KAFKA08_HOSTS_TAG, KAFKA08_HOSTS_OWNER (a pid: `sweep` takes the set down
# once it is gone; the test kit sets its own), KAFKA08_HOSTS_STATE (state folder, default
# /run/kafka08-hosts).
set -euo pipefail

tag=${KAFKA08_HOSTS_TAG:-0}
state_dir=${KAFKA08_HOSTS_STATE:-/run/kafka08-hosts}
[[ "$tag" =~ ^[0-9a-z]{1,7}$ ]] || { echo "hosts.sh: bad KAFKA08_HOSTS_TAG '$tag' (1-7 of [0-9a-z])" >&2; exit 2; }
bridge="k08br$tag"
state="$state_dir/$tag.env"
MAX_HOSTS=200

usage() {
    local code=${1:-2}
    if [[ $code -eq 0 ]]; then
        sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    else
        sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    fi
    exit "$code"
}

die() {
    echo "hosts.sh: $*" >&2
    exit 1
}

ns_of() { echo "k08-$tag-h$1"; }
veth_of() { echo "k08v${tag}h$1"; }

# host_number HOST: 3 for "h3" or "3"; dies on anything else.
host_number() {
    local h=${1#h}
    [[ "$h" =~ ^[1-9][0-9]*$ ]] || die "bad host '$1' (h1, h2, ... or 1, 2, ...)"
    echo "$h"
}

need_root() {
    [[ $(id -u) -eq 0 ]] || die "needs root (network namespaces and nftables)"
}

# install_missing: iproute2 (ip, tc) and nftables (nft), with apt, when missing.
install_missing() {
    local -a missing=()
    command -v ip >/dev/null 2>&1 || missing+=(iproute2)
    command -v tc >/dev/null 2>&1 || missing+=(iproute2)
    command -v nft >/dev/null 2>&1 || missing+=(nftables)
    [[ ${#missing[@]} -eq 0 ]] && return 0
    command -v apt-get >/dev/null 2>&1 || die "no apt-get; install these yourself: ${missing[*]}"
    echo "hosts.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    # shellcheck disable=SC2046 # one word per package
    apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
}

# subnet: the first three octets of this set's /24, from the state file.
load_state() {
    SUBNET=
    OWNER_PID=
    # shellcheck source=/dev/null
    [[ -f "$state" ]] && . "$state"
    return 0
}

# our_hosts: the numbers of this set's namespaces, sorted.
our_hosts() {
    ip netns list 2>/dev/null | awk '{print $1}' | sed -n "s/^k08-$tag-h\([0-9]\+\)\$/\1/p" | sort -n
}

# pick_subnet: tag 0 is 10.208.0; else the first 10.208.X (X >= 1) that no interface and
# no other set of ours uses. Called with the lock held.
pick_subnet() {
    if [[ "$tag" == 0 ]]; then
        echo 10.208.0
        return
    fi
    local x used
    used=$(ip -o -4 addr show 2>/dev/null | awk '{print $4}'; cat "$state_dir"/*.env 2>/dev/null | sed -n 's/^SUBNET=//p')
    for ((x = 1; x < 255; x++)); do
        if ! grep -q "10\.208\.$x\.[0-9]" <<<"$used"; then
            echo "10.208.$x"
            return
        fi
    done
    die "no free 10.208.X.0/24 left"
}

add_host() {
    local n=$1 ns veth
    ns=$(ns_of "$n")
    veth=$(veth_of "$n")
    ip netns add "$ns"
    ip link add "$veth" type veth peer name eth0 netns "$ns"
    ip link set "$veth" master "$bridge" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$SUBNET.$((10 + n))/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip netns exec "$ns" nft -f - <<'EOF'
table inet kafka08 {
    chain input { type filter hook input priority 0; policy accept; }
    chain output { type filter hook output priority 0; policy accept; }
}
EOF
}

cmd_up() {
    [[ $# -eq 1 && "$1" =~ ^[1-9][0-9]*$ && "$1" -le $MAX_HOSTS ]] || die "up needs a number of hosts, 1 to $MAX_HOSTS"
    local want=$1 n
    need_root
    install_missing
    mkdir -p "$state_dir"
    exec 9>"$state_dir/.lock"
    flock 9
    load_state
    if [[ -z "$SUBNET" ]] || ! ip link show "$bridge" >/dev/null 2>&1; then
        # A new set (or the remains of one whose bridge is gone): start from nothing.
        remove_all >/dev/null
        SUBNET=$(pick_subnet)
        ip link add "$bridge" type bridge
        ip addr add "$SUBNET.1/24" dev "$bridge"
        ip link set "$bridge" up
    fi
    {
        echo "# Written by zk-scripts/hosts.sh up."
        echo "SUBNET=$SUBNET"
        echo "OWNER_PID=${KAFKA08_HOSTS_OWNER:-${OWNER_PID:-}}"
    } >"$state"
    for ((n = 1; n <= want; n++)); do
        ip netns list | awk '{print $1}' | grep -Fxq "$(ns_of "$n")" || add_host "$n"
    done
    flock -u 9
    cmd_list
}

# kill_ns_processes NS: SIGKILL every process in NS and wait until they are gone (a
# namespace with a process left keeps its veth, and so its address, alive).
kill_ns_processes() {
    local ns=$1 pids deadline
    deadline=$((SECONDS + 10))
    while pids=$(ip netns pids "$ns" 2>/dev/null) && [[ -n "$pids" ]]; do
        # shellcheck disable=SC2086 # a list of pids
        kill -CONT $pids 2>/dev/null || true
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
        ((SECONDS < deadline)) || die "processes $pids in $ns do not die"
        sleep 0.05
    done
}

remove_host() {
    local n=$1 ns
    ns=$(ns_of "$n")
    kill_ns_processes "$ns"
    ip netns del "$ns" 2>/dev/null || true
    ip link del "$(veth_of "$n")" 2>/dev/null || true
}

# remove_all: every namespace, veth and the bridge of this set, and its state file.
remove_all() {
    local n link
    for n in $(our_hosts); do
        remove_host "$n"
        echo "removed h$n"
    done
    # veths whose namespace went another way
    for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep "^k08v${tag}h[0-9]\+\$" || true); do
        ip link del "$link" 2>/dev/null || true
    done
    if ip link show "$bridge" >/dev/null 2>&1; then
        ip link del "$bridge"
        echo "removed $bridge"
    fi
    rm -f "$state"
}

cmd_down() {
    [[ $# -eq 0 ]] || usage
    need_root
    command -v ip >/dev/null 2>&1 || return 0
    mkdir -p "$state_dir"
    exec 9>"$state_dir/.lock"
    flock 9
    remove_all
}

cmd_add() {
    [[ $# -eq 1 ]] || usage
    local n
    n=$(host_number "$1")
    ((n <= MAX_HOSTS)) || die "at most $MAX_HOSTS hosts"
    need_root
    mkdir -p "$state_dir"
    exec 9>"$state_dir/.lock"
    flock 9
    load_state
    [[ -n "$SUBNET" ]] && ip link show "$bridge" >/dev/null 2>&1 || die "no hosts (tag $tag); run: zk-scripts/hosts.sh up N"
    ip netns list | awk '{print $1}' | grep -Fxq "$(ns_of "$n")" && die "h$n exists already"
    add_host "$n"
    flock -u 9
    echo "h$n $(ns_of "$n") $SUBNET.$((10 + n))"
}

cmd_remove() {
    [[ $# -eq 1 ]] || usage
    local n
    n=$(host_number "$1")
    need_root
    ip netns list | awk '{print $1}' | grep -Fxq "$(ns_of "$n")" || die "no host h$n (tag $tag)"
    remove_host "$n"
    echo "removed h$n"
}

cmd_exec() {
    [[ $# -ge 2 ]] || usage
    local n
    n=$(host_number "$1")
    shift
    ip netns list | awk '{print $1}' | grep -Fxq "$(ns_of "$n")" || die "no host h$n (tag $tag); run: zk-scripts/hosts.sh up N"
    exec ip netns exec "$(ns_of "$n")" "$@"
}

cmd_addr() {
    [[ $# -eq 1 ]] || usage
    local n
    n=$(host_number "$1")
    load_state
    [[ -n "$SUBNET" ]] || die "no hosts (tag $tag); run: zk-scripts/hosts.sh up N"
    ip netns list | awk '{print $1}' | grep -Fxq "$(ns_of "$n")" || die "no host h$n (tag $tag)"
    echo "$SUBNET.$((10 + n))"
}

cmd_list() {
    [[ $# -eq 0 ]] || usage
    load_state
    local n
    [[ -n "$SUBNET" ]] && echo "root $bridge $SUBNET.1"
    for n in $(our_hosts); do
        echo "h$n $(ns_of "$n") $SUBNET.$((10 + n))"
    done
}

# sweep: down every set whose state names an owner pid that is gone.
cmd_sweep() {
    [[ $# -eq 0 ]] || usage
    need_root
    local f t owner
    for f in "$state_dir"/*.env; do
        [[ -f "$f" ]] || continue
        t=$(basename "$f" .env)
        owner=$(sed -n 's/^OWNER_PID=//p' "$f")
        if [[ -n "$owner" ]] && ! kill -0 "$owner" 2>/dev/null; then
            KAFKA08_HOSTS_TAG=$t "${BASH_SOURCE[0]}" down
        fi
    done
}

[[ $# -ge 1 ]] || usage
cmd=$1
shift
case "$cmd" in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    exec) cmd_exec "$@" ;;
    addr) cmd_addr "$@" ;;
    list) cmd_list "$@" ;;
    add) cmd_add "$@" ;;
    remove) cmd_remove "$@" ;;
    sweep) cmd_sweep "$@" ;;
    -h | --help | help) usage 0 ;;
    *) echo "hosts.sh: unknown command: $cmd" >&2; usage ;;
esac
