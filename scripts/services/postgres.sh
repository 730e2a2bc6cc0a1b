#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests (PostgreSQL store tests; see docs/decisions/0015-postgres-store.md).
#
#   scripts/services/postgres.sh start <dir>   initdb (first time) and start on a free 127.0.0.1 port; prints
#                                              export PRIVATEHEALTH_PG='Host=127.0.0.1;Port=...;Username=postgres;Database=postgres'
#                                              on stdout, for the caller to eval. Installs PostgreSQL (apt) if initdb is missing.
#   scripts/services/postgres.sh stop <dir>    stop it (pg_ctl stop -m immediate); the directory is left for the caller.
#   scripts/services/postgres.sh status <dir>  exit 0 and print the export line if it is running, else exit 1.
#
# Both start and stop are idempotent: start on a running cluster prints its export line again; stop on a stopped
# (or never started) one does nothing. Everything but the export line goes to <dir>/service.log. The cluster trusts
# local connections and runs with fsync, synchronous_commit and full_page_writes off: for tests only, never for data
# that matters. As root, initdb and postgres run as the postgres user (they refuse to run as root).
set -euo pipefail

usage() {
    echo "usage: $0 start|stop|status <dir>" >&2
    exit 2
}

[[ $# -eq 2 ]] || usage
command="$1"
[[ -n "$2" ]] || usage
mkdir -p "$2"
dir="$(cd "$2" && pwd)"
data="$dir/data"
log="$dir/service.log"
port_file="$dir/port"

# The cluster (and its unix socket) lives in <dir>; as root the postgres user must be able to reach it.
as_root=0
[[ "$(id -u)" -eq 0 ]] && as_root=1

find_bin() { # name → path of a PostgreSQL server binary, or nothing
    local name="$1" candidate
    if candidate="$(command -v "$name" 2>/dev/null)"; then
        echo "$candidate"
        return 0
    fi
    for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
        if [[ -x "$candidate/$name" ]]; then
            echo "$candidate/$name"
            return 0
        fi
    done
    return 1
}

as_postgres() {
    if [[ "$as_root" -eq 1 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

install_postgres() {
    echo "==> $(date -u +%FT%TZ) initdb not found: installing postgresql (apt)" >>"$log"
    local sudo=""
    [[ "$as_root" -eq 1 ]] || sudo="sudo"
    if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >>"$log" 2>&1; then
        $sudo apt-get update -qq >>"$log" 2>&1
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >>"$log" 2>&1
    fi
}

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
        return
    fi
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 30000))
        if ! (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    echo "no free port found" >&2
    return 1
}

export_line() {
    printf "export PRIVATEHEALTH_PG='Host=127.0.0.1;Port=%s;Username=postgres;Database=postgres'\n" "$(cat "$port_file")"
}

is_running() {
    local pg_ctl
    [[ -f "$data/PG_VERSION" && -f "$port_file" ]] || return 1
    pg_ctl="$(find_bin pg_ctl)" || return 1
    as_postgres "$pg_ctl" -D "$data" status >/dev/null 2>&1
}

start() {
    if is_running; then
        export_line
        return 0
    fi

    local initdb pg_ctl port attempt
    if ! initdb="$(find_bin initdb)"; then
        install_postgres
        initdb="$(find_bin initdb)" || { echo "error: PostgreSQL is not installed and could not be installed (see $log)" >&2; exit 1; }
    fi
    pg_ctl="$(find_bin pg_ctl)"

    if [[ "$as_root" -eq 1 ]]; then
        chown postgres:postgres "$dir"
        touch "$log" && chown postgres:postgres "$log"
        if ! runuser -u postgres -- test -w "$dir"; then
            echo "error: the postgres user cannot write to $dir (a parent directory is not accessible); use a directory under /tmp" >&2
            exit 1
        fi
    fi

    if [[ ! -f "$data/PG_VERSION" ]]; then
        echo "==> $(date -u +%FT%TZ) initdb $data" >>"$log"
        rm -rf "$data"
        (cd "$dir" && as_postgres "$initdb" -D "$data" -U postgres --auth=trust --no-locale -E UTF8 --no-sync) >>"$log" 2>&1 \
            || { echo "error: initdb failed (see $log)" >&2; exit 1; }
    fi

    for attempt in 1 2 3; do
        port="$(free_port)"
        echo "==> $(date -u +%FT%TZ) starting on 127.0.0.1:$port (attempt $attempt)" >>"$log"
        if (cd "$dir" && as_postgres "$pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
            start) >>"$log" 2>&1; then
            echo "$port" >"$port_file"
            export_line
            return 0
        fi
    done
    echo "error: PostgreSQL did not start (see $log and $dir/postgres.log)" >&2
    exit 1
}

stop() {
    local pg_ctl
    if [[ -f "$data/PG_VERSION" ]] && pg_ctl="$(find_bin pg_ctl)" && as_postgres "$pg_ctl" -D "$data" status >/dev/null 2>&1; then
        echo "==> $(date -u +%FT%TZ) stopping" >>"$log"
        (cd "$dir" && as_postgres "$pg_ctl" -D "$data" -m immediate -w stop) >>"$log" 2>&1
    fi
    rm -f "$port_file"
}

case "$command" in
    start) start ;;
    stop) stop ;;
    status) if is_running; then export_line; else exit 1; fi ;;
    *) usage ;;
esac
