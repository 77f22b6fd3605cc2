#!/usr/bin/env bash
# Install what the console's browser tests need, when it is missing: Debian's chromium
# (apt) and playwright-core (npm, into tests/browser/node_modules, ignored by git).
# Playwright only drives the system browser; it downloads no browser of its own.
# Idempotent: with everything present it only checks.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PLAYWRIGHT_VERSION=1.49.1

# Tests run in parallel and each calls this script: one installs while the others wait
# (a second npm install into the same folder, or a test starting while package.json exists
# but the rest is still being unpacked, failed with "Cannot find module").
exec 9<"${BASH_SOURCE[0]}"
flock 9

apt_install() {
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@"
}

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "browser/setup.sh: installing ${missing[*]}"
    apt_install "${missing[@]}"
fi
if [[ ! -f "$here/node_modules/playwright-core/package.json" ]]; then
    echo "browser/setup.sh: installing playwright-core $PLAYWRIGHT_VERSION"
    (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-save --no-audit --no-fund --loglevel=error "playwright-core@$PLAYWRIGHT_VERSION")
fi
