#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for Switchyard's tests: initdb in a
# temporary directory, listening on 127.0.0.1:<port> only, trust auth for
# the `postgres` user, fsync off.
#
#   cluster.sh <port>
#
# Prints `READY <port>` once the server accepts connections. Then reads
# commands on stdin, one per line: `stop` (fast shutdown, answers
# `STOPPED`) and `start` (answers `STARTED`), so a test can take the
# database away under a running server. When stdin closes (the test
# process holds the other end and exits) or the script is killed, the
# server is stopped and the directory removed.
set -euo pipefail

port=${1:?usage: cluster.sh <port>}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bindir" ] && command -v pg_config >/dev/null; then bindir=$(pg_config --bindir); fi
[ -x "${bindir:-}/initdb" ] || {
    echo "PostgreSQL server binaries not found: run the tests with scripts/test, or apt-get install postgresql" >&2
    exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-pg.XXXXXX")
# initdb refuses to run as root: the cluster belongs to an unprivileged user.
as_pg=()
if [ "$(id -u)" = 0 ]; then
    pg_user=$(id -u postgres >/dev/null 2>&1 && echo postgres || echo nobody)
    chown "$pg_user" "$work"
    as_pg=(runuser -u "$pg_user" --)
fi
pg_ctl() { "${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" "$@"; }
cleanup() {
    pg_ctl -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

start() {
    pg_ctl -l "$work/postgres.log" -w -t 60 \
        -o "-p $port -k $work -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
        start >/dev/null || { cat "$work/postgres.log" >&2; exit 1; }
}

"${as_pg[@]}" "$bindir/initdb" -D "$work/data" -U postgres -A trust --no-sync >/dev/null
start
echo "READY $port"
while IFS= read -r cmd; do
    case "$cmd" in
        stop) pg_ctl -m fast -w stop >/dev/null; echo STOPPED ;;
        start) start; echo STARTED ;;
        *) echo "unknown command: $cmd" >&2 ;;
    esac
done
