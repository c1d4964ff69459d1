#!/usr/bin/env bash
# Captures golden PostgreSQL wire bytes for guard-sql's codec tests (tests/pg_golden.rs).
#
# Starts a throwaway PostgreSQL 15 cluster in /tmp (initdb as the `postgres` user when run as
# root, SCRAM-SHA-256 passwords for TCP, TLS off), then runs real clients through tee.py, a
# relay that saves each direction of each connection to <session>.c<N>.frontend.bin and
# <session>.c<N>.backend.bin in this directory (N counts the session's connections from 0):
#   psql_simple   psql (sslmode=prefer: SSLRequest answered 'N'), SCRAM login, simple queries:
#                 CREATE TABLE, INSERT, SELECT (RowDescription with table OIDs, DataRows with a
#                 NULL), a NOTICE, an error (ErrorResponse 42P01), a transaction, COPY TO STDOUT
#   pgbench_extended  pgbench -M extended: Parse/Bind/Describe/Execute/Sync batches
# pgbench opens two connections: c0 only checks the server, c1 runs the script.
#   scram_secrets.txt  SCRAM secrets PostgreSQL made for non-ASCII passwords (SASLprep)
# Usage: testdata/pg/capture.sh [SESSION...]   (needs postgresql-15 server binaries, psql,
# pgbench, python3); with SESSION names, only those are captured again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
work=$(mktemp -d /tmp/guard-pgcap.XXXXXX)
chmod 755 "$work"
as_pg=()
if [[ $(id -u) -eq 0 ]]; then
    chown postgres "$work"
    as_pg=(runuser -u postgres --)
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pgport=$(free_port)
cleanup() {
    "${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

echo secret-pw >"$work/pwfile"
chmod 644 "$work/pwfile"
"${as_pg[@]}" "$bindir/initdb" -D "$work/data" -U postgres --auth-local=trust \
    --auth-host=scram-sha-256 --pwfile="$work/pwfile" -E UTF8 --locale=C.UTF-8 >/dev/null
"${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -w -l "$work/log" \
    -o "-p $pgport -k $work -c listen_addresses=127.0.0.1 -c ssl=off" start >/dev/null
"$bindir/psql" -h "$work" -p "$pgport" -U postgres -d postgres -q \
    -c "CREATE ROLE alice LOGIN PASSWORD 'alice-pw'" -c "CREATE DATABASE app OWNER alice"

wanted() { # whether session $1 is to be captured
    [[ ${#only[@]} -eq 0 ]] && return 0
    local w; for w in "${only[@]}"; do [[ $w == "$1" ]] && return 0; done
    return 1
}
only=("$@")

tee_session() { # name, then the client command with PORT in place of the port
    local name=$1; shift
    wanted "$name" || return 0
    local port; port=$(free_port)
    rm -f "$here/$name".*.bin
    python3 "$here/tee.py" "$port" "$pgport" "$here/$name" >"$work/tee.out" &
    local tee_pid=$!
    for _ in $(seq 50); do grep -q listening "$work/tee.out" 2>/dev/null && break; sleep 0.1; done
    "${@//PORT/$port}" || true
    sleep 1 # let the relay threads finish writing after the client closed
    kill "$tee_pid"
    wait "$tee_pid" 2>/dev/null || true
}

cat >"$work/simple.sql" <<'SQL'
CREATE TABLE users (id int PRIMARY KEY, name text, email text);
INSERT INTO users VALUES (1, 'ada', 'ada@example.com'), (2, 'bob', NULL);
SELECT id, name, email FROM users ORDER BY id;
DROP TABLE IF EXISTS not_there;
SELECT * FROM missing_table;
BEGIN;
UPDATE users SET name = 'bobby' WHERE id = 2;
COMMIT;
COPY users TO STDOUT;
SQL
PGPASSWORD=alice-pw tee_session psql_simple "$bindir/psql" -X -q \
    "host=127.0.0.1 port=PORT user=alice dbname=app sslmode=prefer gssencmode=disable application_name=golden" \
    -f "$work/simple.sql" >/dev/null 2>&1

cat >"$work/bench.sql" <<'SQL'
\set id 1
SELECT id, name FROM users WHERE id = :id;
SQL
PGPASSWORD=alice-pw tee_session pgbench_extended "$bindir/pgbench" -n -M extended -t 2 -c 1 \
    -h 127.0.0.1 -p PORT -U alice -f "$work/bench.sql" app >/dev/null

# LISTEN/NOTIFY (NotificationResponse), COPY FROM STDIN (CopyInResponse, then the client's
# CopyData and CopyDone), and psql's \lo_import, which libpq runs through the fast-path
# function call protocol (FunctionCall / FunctionCallResponse for lo_creat, lo_open, lowrite,
# lo_close), inside BEGIN/COMMIT.
printf 'large object payload\n' >"$work/lo.txt"
chmod 644 "$work/lo.txt"
cat >"$work/more.sql" <<SQL
CREATE TEMP TABLE t (id int, name text);
LISTEN events;
NOTIFY events, 'hello';
COPY t FROM STDIN;
1	ada
2	bob
\.
SELECT count(*) FROM t;
\lo_import $work/lo.txt
SQL
PGPASSWORD=alice-pw tee_session psql_more "$bindir/psql" -X -q \
    "host=127.0.0.1 port=PORT user=alice dbname=app sslmode=disable gssencmode=disable" \
    -f "$work/more.sql" >/dev/null 2>&1

# CancelRequest: psql runs a long statement and is interrupted; libpq sends CancelRequest on a
# second connection to the same address (c1), and the first (c0) gets ErrorResponse 57014.
cancel_psql() { # the psql command line, with the port already substituted
    "$@" &
    local pid=$!
    sleep 2
    kill -INT "$pid"
    wait "$pid" || true
}
PGPASSWORD=alice-pw tee_session psql_cancel cancel_psql "$bindir/psql" -X -q \
    "host=127.0.0.1 port=PORT user=alice dbname=app sslmode=disable gssencmode=disable" \
    -c "SELECT pg_sleep(30)"

# SCRAM secrets that PostgreSQL computes for non-ASCII passwords: the server applies SASLprep
# (RFC 4013) when it hashes a password, and uses the raw bytes when SASLprep refuses it.
# One line per role: the password's UTF-8 bytes in hex, a tab, the secret from pg_authid.
if wanted scram_secrets; then
    {
        for pw in 'I\00adX' '\2168' 'na\00efve' 'a\0007b' '\0627\0031' 'caf\0065\0301'; do
            role="sp_$RANDOM$RANDOM"
            "$bindir/psql" -h "$work" -p "$pgport" -U postgres -d postgres -qAt \
                -c "CREATE ROLE $role PASSWORD U&'$pw'" >/dev/null
            "$bindir/psql" -h "$work" -p "$pgport" -U postgres -d postgres -qAt -F $'\t' \
                -c "SELECT encode(convert_to(U&'$pw', 'UTF8'), 'hex'), rolpassword FROM pg_authid WHERE rolname = '$role'"
        done
    } >"$here/scram_secrets.txt"
fi

ls -l "$here"/*.bin "$here"/*.txt
