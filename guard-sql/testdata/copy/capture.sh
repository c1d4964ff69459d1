#!/usr/bin/env bash
# Captures golden COPY TO STDOUT output from a real PostgreSQL 15 server for
# guard-sql's COPY codec tests (tests/copy_golden.rs).
#
# Starts a throwaway cluster in /tmp (initdb as the `postgres` user when run as root, as
# ../pg/capture.sh does), fills a table with awkward values, and for each case NAME writes:
#   NAME.sql       the COPY statement, exactly as run
#   NAME.copy      its output: psql writes the CopyData payloads to stdout unchanged
#   NAME.expected  one line per row: the fields, space-separated, each `N` for NULL or the
#                  value's bytes in hex (text output of each column for text and CSV, the
#                  type's send function for binary), computed by the server from the same query
# Usage: testdata/copy/capture.sh   (needs postgresql-15 server binaries and psql)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
work=$(mktemp -d /tmp/guard-copycap.XXXXXX)
chmod 755 "$work"
as_pg=()
if [[ $(id -u) -eq 0 ]]; then
    chown postgres "$work"
    as_pg=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
    "${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

"${as_pg[@]}" "$bindir/initdb" -D "$work/data" -U postgres --auth-local=trust -E UTF8 \
    --locale=C.UTF-8 >/dev/null
"${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -w -l "$work/log" \
    -o "-p $port -k $work -c listen_addresses=''" start >/dev/null
psql=("$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d postgres)

"${psql[@]}" <<'SQL'
CREATE TABLE copy_t (id int PRIMARY KEY, t text);
INSERT INTO copy_t VALUES
  (1, 'plain'),
  (2, E'tab\there'),
  (3, E'new\nline'),
  (4, E'cr\rreturn and crlf\r\nend'),
  (5, E'back\\slash'),
  (6, NULL),
  (7, ''),
  (8, 'ünïcødé ☃ 𝄞'),
  (9, E'\\N'),
  (10, 'comma,semi;pipe|quote"apos'''),
  (11, E'\x01\x7f ctrl \b\f\v'),
  (12, E'\\.'),
  (13, 'x'),
  (14, ' spaces '),
  (15, E'esc\\"mixed"\\');
CREATE TABLE "Gen T" (id int, doubled int GENERATED ALWAYS AS (id * 2) STORED, "Name" text);
INSERT INTO "Gen T" (id, "Name") VALUES (1, 'one'), (2, NULL);
SQL

q='SELECT id, t FROM copy_t ORDER BY id'
# The expected fields of each row of query $1, from the server's text output of each column.
expect_text() {
    "${psql[@]}" -At -c "SELECT (SELECT string_agg(CASE WHEN v IS NULL THEN 'N'
        ELSE encode(convert_to(v, 'UTF8'), 'hex') END, ' ' ORDER BY o)
        FROM json_each_text(to_json(q)) WITH ORDINALITY AS j(k, v, o)) FROM ($1) q"
}
case_() { # name, COPY statement, query for the expected rows, expectation function
    local name=$1 copy=$2 query=$3 how=$4
    printf '%s\n' "$copy" >"$here/$name.sql"
    "${psql[@]}" -c "$copy" >"$here/$name.copy"
    "$how" "$query" >"$here/$name.expected"
}

case_ text_default "COPY ($q) TO STDOUT" "$q" expect_text
case_ text_custom "COPY ($q) TO STDOUT WITH (FORMAT text, DELIMITER '|', NULL 'NULL', HEADER)" \
    "$q" expect_text
case_ csv_header "COPY ($q) TO STDOUT WITH (FORMAT csv, HEADER true)" "$q" expect_text
case_ csv_legacy "COPY ($q) TO STDOUT CSV HEADER DELIMITER ';' NULL 'x'" "$q" expect_text
case_ csv_escape "COPY ($q) TO STDOUT (FORMAT csv, QUOTE '''', ESCAPE '\\', FORCE_QUOTE *)" \
    "$q" expect_text
q1='SELECT t FROM copy_t ORDER BY id'
case_ csv_single "COPY ($q1) TO STDOUT (FORMAT csv)" "$q1" expect_text
# COPY of a table without a column list leaves out the generated column.
case_ csv_generated 'COPY "Gen T" TO STDOUT (FORMAT csv, HEADER)' \
    'SELECT id, "Name" FROM "Gen T"' expect_text

# Binary: int4, text and a NULL text per row; the expected bytes come from the send functions.
expect_binary() {
    "${psql[@]}" -At -c "SELECT concat_ws(' ', encode(int4send(id), 'hex'),
        coalesce(encode(textsend(t), 'hex'), 'N'), 'N') FROM ($1) q"
}
qb='SELECT id, t, NULL::text AS n FROM copy_t ORDER BY id'
case_ binary "COPY ($qb) TO STDOUT (FORMAT binary)" "$qb" expect_binary

ls -l "$here"
