#!/usr/bin/env bash
# Debian's Chromium for the dashboard's browser test (tests/Coordinator.Tests/DashboardBrowserTests.cs drives
# /usr/bin/chromium through Microsoft.Playwright; Playwright never downloads a browser of its own here).
#
#   scripts/services/chromium.sh ensure [log]   install chromium (apt-get) if /usr/bin/chromium is missing; quiet on
#                                              stdout, apt's output goes to [log] (default artifacts/services.log).
#                                              Idempotent: does nothing when chromium is already there.
#   scripts/services/chromium.sh status         exit 0 and print the path if /usr/bin/chromium exists, else exit 1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CHROMIUM=/usr/bin/chromium

usage() {
    echo "usage: $0 ensure [log]|status" >&2
    exit 2
}

[[ $# -ge 1 ]] || usage

ensure() {
    local log="${1:-$ROOT/artifacts/services.log}"
    [[ -x "$CHROMIUM" ]] && return 0
    mkdir -p "$(dirname "$log")"
    local sudo=""
    [[ "$(id -u)" -eq 0 ]] || sudo="sudo"
    echo "==> $(date -u +%FT%TZ) $CHROMIUM not found: installing chromium (apt)" >>"$log"
    if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >>"$log" 2>&1; then
        $sudo apt-get update -qq >>"$log" 2>&1 || true
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >>"$log" 2>&1 || true
    fi
    if [[ ! -x "$CHROMIUM" ]]; then
        echo "warning: chromium could not be installed (see $log); the dashboard browser test will fail" >&2
        return 1
    fi
}

case "$1" in
    ensure) ensure "${2:-}" ;;
    status) if [[ -x "$CHROMIUM" ]]; then echo "$CHROMIUM"; else exit 1; fi ;;
    *) usage ;;
esac
