#!/usr/bin/env bash
# pgbench -S side by side: PostgreSQL direct, through pgbouncer (session pooling), through
# guard-gateway in audit-only mode, and through guard-gateway with policy + masking + strict
# recording + audit log. The proxies reach PostgreSQL once over TCP and once over its Unix
# socket (as when they run on the database host); each gateway row is compared with pgbouncer
# on the same upstream transport. Clients always connect over TCP. Prints a table with TPS,
# ratios and the gateway's memory per idle session.
#
# Usage: benches/scripts/pgbench-compare.sh            (from the repository root)
# Environment: CLIENTS (8), SECONDS_PER_RUN (20), SCALE (10), IDLE_SESSIONS (200),
#              CARGO_TARGET_DIR (/var/tmp/guard-target).
#
# Everything runs on 127.0.0.1 in a temporary directory that is removed at exit. As root it
# installs pgbouncer (Debian package) if missing and runs PostgreSQL and pgbouncer as the
# `postgres` user. The machine this runs on is usually shared: treat figures as indicative.
set -euo pipefail
cd "$(dirname "$0")/../.."

CLIENTS="${CLIENTS:-8}"
SECS="${SECONDS_PER_RUN:-20}"
SCALE="${SCALE:-10}"
IDLE="${IDLE_SESSIONS:-200}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/guard-target}"

bindir="$(pg_config --bindir 2>/dev/null || true)"
[[ -x "$bindir/initdb" ]] || bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
[[ -x "$bindir/initdb" ]] || { echo "install postgresql-15 (initdb not found)" >&2; exit 1; }
command -v pgbench >/dev/null || { echo "install postgresql-contrib-15 (pgbench)" >&2; exit 1; }
if ! command -v pgbouncer >/dev/null; then
    if [[ $(id -u) -eq 0 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends pgbouncer >/dev/null
        # The package starts a system instance; we run our own.
        systemctl stop pgbouncer 2>/dev/null || service pgbouncer stop 2>/dev/null || true
    else
        echo "install pgbouncer: sudo apt-get install -y pgbouncer" >&2
        exit 1
    fi
fi

run_as=()
[[ $(id -u) -eq 0 ]] && run_as=(runuser -u postgres --)

work="$(mktemp -d /tmp/guard-pgbench.XXXXXX)"
chmod 755 "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    "${run_as[@]}" "$bindir/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "==> building guard-gateway (release)"
cargo build -q --release -p guard-gateway
gw="$CARGO_TARGET_DIR/release/guard-gateway"

echo "==> PostgreSQL (throwaway cluster)"
pw="$(head -c 18 /dev/urandom | base64 | tr -dc A-Za-z0-9)"
pg_port=$(free_port)
mkdir -p "$work/pg"
echo "$pw" >"$work/pg/pwfile"
[[ $(id -u) -eq 0 ]] && chown -R postgres: "$work/pg"
"${run_as[@]}" "$bindir/initdb" -D "$work/pg/data" -U postgres --auth=scram-sha-256 \
    --pwfile "$work/pg/pwfile" --no-sync -E UTF8 --locale=C >/dev/null
cat >>"$work/pg/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$work/pg'
max_connections = 400
shared_buffers = 128MB
fsync = off
synchronous_commit = off
EOF
"${run_as[@]}" "$bindir/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w start >/dev/null
export PGPASSWORD="$pw"
psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c "CREATE DATABASE bench" >/dev/null
pgbench -i -q -s "$SCALE" -h 127.0.0.1 -p "$pg_port" -U postgres bench >/dev/null 2>&1

echo "==> pgbouncer (session pooling)"
bouncer_port=$(free_port)
mkdir -p "$work/bouncer"
cat >"$work/bouncer/pgbouncer.ini" <<EOF
[databases]
bench = host=127.0.0.1 port=$pg_port dbname=bench user=postgres password=$pw
bench_unix = host=$work/pg port=$pg_port dbname=bench user=postgres password=$pw
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir =
auth_type = trust
auth_file = $work/bouncer/users.txt
pool_mode = session
max_client_conn = 1000
default_pool_size = 300
logfile = $work/bouncer/log
pidfile = $work/bouncer/pid
EOF
echo '"bench" ""' >"$work/bouncer/users.txt"
[[ $(id -u) -eq 0 ]] && chown -R postgres: "$work/bouncer"
"${run_as[@]}" pgbouncer "$work/bouncer/pgbouncer.ini" >/dev/null 2>&1 &
pids+=($!)

echo "==> guard-gateway configurations"
secret=$(printf 'bench-pw' | "$gw" hash-password)
write_gw() { # name port audit_only policy_file recording
    local d="$work/$1"
    mkdir -p "$d"
    echo "$pw" >"$d/upstream.pw"
    cp examples/demo/pii.toml "$d/pii.toml"
    cat >"$d/gateway.toml" <<EOF
[[listeners]]
protocol = "postgres"
address = "127.0.0.1:$2"
[[resources]]
name = "bench"
protocol = "postgres"
host = "127.0.0.1"
port = $pg_port
database = "bench"
user = "postgres"
password = { file = "upstream.pw" }
[[resources]]
name = "bench_unix"
protocol = "postgres"
host = "$work/pg"
port = $pg_port
database = "bench"
user = "postgres"
password = { file = "upstream.pw" }
[[identity.users]]
name = "bench"
groups = ["agents"]
password_hash = "$secret"
[policy]
file = "$4"
audit_only = $3
[masking.profiles]
pii = "pii.toml"
EOF
    if [[ "$5" == yes ]]; then
        printf '[recording]\ndir = "recordings"\nstrict = true\n[audit]\nfile = "audit.jsonl"\n' >>"$d/gateway.toml"
    fi
}
printf 'default = "allow"\n' >"$work/allow.toml"
cp examples/demo/policy.toml "$work/full.toml"
gw_audit_port=$(free_port)
gw_full_port=$(free_port)
write_gw gw-audit "$gw_audit_port" true "$work/allow.toml" no
write_gw gw-full "$gw_full_port" false "$work/full.toml" yes
RUST_LOG=warn "$gw" run --config "$work/gw-audit/gateway.toml" 2>"$work/gw-audit/log" &
pids+=($!); audit_pid=$!
RUST_LOG=warn "$gw" run --config "$work/gw-full/gateway.toml" 2>"$work/gw-full/log" &
pids+=($!); full_pid=$!
sleep 1

bench() { # label url
    local out tps
    out=$(pgbench -S -n -c "$CLIENTS" -j 2 -T "$SECS" "$2" 2>&1) || { echo "$out" >&2; exit 1; }
    tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
    printf "%.0f\n" "$tps"
}

echo "==> pgbench -S -c $CLIENTS -T $SECS (scale $SCALE)"
gw_url() { echo "postgresql://bench:bench-pw@127.0.0.1:$1/$2?sslmode=disable"; }
direct=$(bench direct "postgresql://postgres:$pw@127.0.0.1:$pg_port/bench?sslmode=disable")
bouncer=$(bench pgbouncer "postgresql://bench@127.0.0.1:$bouncer_port/bench?sslmode=disable")
audit=$(bench audit "$(gw_url "$gw_audit_port" bench)")
full=$(bench full "$(gw_url "$gw_full_port" bench)")
bouncer_u=$(bench pgbouncer "postgresql://bench@127.0.0.1:$bouncer_port/bench_unix?sslmode=disable")
audit_u=$(bench audit "$(gw_url "$gw_audit_port" bench_unix)")
full_u=$(bench full "$(gw_url "$gw_full_port" bench_unix)")

echo "==> memory per idle session ($IDLE sessions on the full gateway)"
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
before=$(rss "$full_pid")
pgbench -n -c "$IDLE" -j 2 -T 8 -R 2 -S \
    "postgresql://bench:bench-pw@127.0.0.1:$gw_full_port/bench?sslmode=disable" >/dev/null 2>&1 &
idle_pid=$!
sleep 5
during=$(rss "$full_pid")
wait "$idle_pid" || true
per_session_kib=$(( (during - before) / IDLE ))

ratio() { python3 -c "print(f'{$1/$2:.2f}x')"; }
echo
printf '| %-48s | %10s | %12s | %12s |\n' "setup" "tps" "vs direct" "vs pgbouncer"
printf '| %-48s | %10s | %12s | %12s |\n' "------------------------------------------------" "----------" "------------" "------------"
printf '| %-48s | %10s | %12s | %12s |\n' "direct (TCP)" "$direct" "1.00x" "$(ratio "$direct" "$bouncer")"
row() { printf '| %-48s | %10s | %12s | %12s |\n' "$1" "$2" "$(ratio "$2" "$direct")" "$(ratio "$2" "$3")"; }
row "pgbouncer (session), upstream TCP" "$bouncer" "$bouncer"
row "guard-gateway audit-only, upstream TCP" "$audit" "$bouncer"
row "guard-gateway policy+masking+recording, TCP" "$full" "$bouncer"
row "pgbouncer (session), upstream Unix socket" "$bouncer_u" "$bouncer_u"
row "guard-gateway audit-only, upstream Unix socket" "$audit_u" "$bouncer_u"
row "guard-gateway policy+masking+recording, Unix" "$full_u" "$bouncer_u"
echo
echo "gateway RSS: ${before} KiB before, ${during} KiB with $IDLE mostly idle sessions: ~${per_session_kib} KiB per session"
