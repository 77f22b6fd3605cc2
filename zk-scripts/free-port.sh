#!/usr/bin/env bash
# Print N (default 1) distinct free TCP ports on 127.0.0.1, one per line.
#
#   free-port.sh [N]
#
# With python3 the OS picks them (bind to port 0, all N held open together so they
# differ). Without python3 (a fresh Debian has none), pick random ports below the
# ephemeral range (32768+) that nothing listens on, reading /proc/net/tcp{,6}.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=zk-scripts/lib.sh
. "$here/lib.sh"

n=${1:-1}
[[ "$n" =~ ^[1-9][0-9]*$ ]] || zk_die "usage: free-port.sh [N]"

if command -v python3 >/dev/null 2>&1; then
    python3 - "$n" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
PY
    exit 0
fi

declare -A picked=()
count=0
tries=0
while ((count < n)); do
    ((tries++ < 10000)) || zk_die "could not find $n free ports"
    port=$((20000 + RANDOM % 12000))
    [[ -z "${picked[$port]:-}" ]] || continue
    zk_port_in_use "$port" && continue
    picked[$port]=1
    echo "$port"
    count=$((count + 1))
done
