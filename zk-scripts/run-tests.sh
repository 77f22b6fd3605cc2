#!/usr/bin/env bash
# The kafka08 test command: install what is missing, make sure a Rust toolchain exists,
# then run every test of the package (unit, integration and doc tests; not benches).
#
#   zk-scripts/run-tests.sh [extra cargo test args...]
#
# Works on a fresh Debian machine as root. Honours CARGO_TARGET_DIR. The whole run is
# capped at RUN_TESTS_TIMEOUT seconds (default 2400) so a hang fails instead of stalling
# CI; servers the tests started are killed by their watchdog when the test process dies.
# Afterwards zk-scripts/leftovers.sh fails the run if the tests left any host (network
# namespace, bridge, rule) or process of theirs behind, and removes it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

./zk-scripts/install.sh

apt_install() {
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@"
}

if ! command -v cargo >/dev/null 2>&1 && [[ -f "$HOME/.cargo/env" ]]; then
    # shellcheck source=/dev/null
    . "$HOME/.cargo/env"
fi
# rustc links through the system C compiler; a fresh Debian has none.
if ! command -v cc >/dev/null 2>&1; then
    echo "run-tests.sh: installing a C toolchain for the linker"
    apt_install gcc libc6-dev
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "run-tests.sh: cargo not found; installing Rust with rustup"
    command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
        sh -s -- -y --profile minimal --default-toolchain stable
    # shellcheck source=/dev/null
    . "$HOME/.cargo/env"
fi
cargo --version

start=$SECONDS
status=0
timeout --kill-after=30 "${RUN_TESTS_TIMEOUT:-2400}" cargo test "$@" || status=$?
echo "run-tests.sh: cargo test finished in $((SECONDS - start))s with exit $status"
# Tests clean up after themselves, also when they fail: anything of ours still here (hosts,
# their rules and processes, servers of a test process that is gone) is a bug. Remove it,
# and fail the run.
if ! ./zk-scripts/leftovers.sh --clean; then
    echo "run-tests.sh: the tests left the things above behind"
    [[ $status -ne 0 ]] || status=1
fi
exit "$status"
