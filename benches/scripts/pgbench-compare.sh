#!/usr/bin/env bash
# pgbench -S side by side: PostgreSQL direct, through pgbouncer (session pooling), through
# guard-gateway in audit-only mode, and through guard-gateway with policy + masking + strict
# recording + audit log. The proxies reach PostgreSQL once over TCP and once over its Unix
# socket (as when they run on the database host); each gateway row is compared with pgbouncer
# on the same upstream transport. Clients always connect over TCP. Prints a table with TPS,
# ratios and the gateway's memory per idle session.
#
# Every setup runs ROUNDS times, the rounds interleaved (odd rounds in reverse order) so that
# load from other work on the machine falls on all setups alike; the table shows the median
# TPS, the ratios of the medians, and the median CPU time the proxy process spent per
# transaction (user + system, from /proc/PID/stat), which depends less on that load. One
# more gateway row keeps everything of the full one but records without `strict` (events are
# buffered instead of each input being written ahead), to show what the write-ahead costs.
#
# Usage: benches/scripts/pgbench-compare.sh            (from the repository root)
# Environment: CLIENTS (8), SECONDS_PER_RUN (20), SCALE (10), ROUNDS (3), IDLE_SESSIONS (200),
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
ROUNDS="${ROUNDS:-3}"
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
write_gw() { # name port audit_only policy_file recording(no|strict|buffered)
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
    if [[ "$5" != no ]]; then
        local strict=true
        [[ "$5" == buffered ]] && strict=false
        printf '[recording]\ndir = "recordings"\nstrict = %s\n[audit]\nfile = "audit.jsonl"\n' "$strict" >>"$d/gateway.toml"
    fi
}
printf 'default = "allow"\n' >"$work/allow.toml"
cp examples/demo/policy.toml "$work/full.toml"
gw_audit_port=$(free_port)
gw_full_port=$(free_port)
gw_buf_port=$(free_port)
write_gw gw-audit "$gw_audit_port" true "$work/allow.toml" no
write_gw gw-full "$gw_full_port" false "$work/full.toml" strict
write_gw gw-buf "$gw_buf_port" false "$work/full.toml" buffered
RUST_LOG=warn "$gw" run --config "$work/gw-audit/gateway.toml" 2>"$work/gw-audit/log" &
pids+=($!); audit_pid=$!
RUST_LOG=warn "$gw" run --config "$work/gw-full/gateway.toml" 2>"$work/gw-full/log" &
pids+=($!); full_pid=$!
RUST_LOG=warn "$gw" run --config "$work/gw-buf/gateway.toml" 2>"$work/gw-buf/log" &
pids+=($!); buf_pid=$!
sleep 1
bouncer_pid=$(cat "$work/bouncer/pid" 2>/dev/null || pgrep -n -f "pgbouncer $work/bouncer/pgbouncer.ini")

# CPU ticks (user + system) a process has used so far.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# One pgbench run; appends "tps cpu_us_per_tx" to $work/results/LABEL.
bench() { # label url proxy_pid(or empty)
    local out tps t0=0 t1=0 tx cpu=-
    [[ -n "$3" ]] && t0=$(ticks "$3")
    out=$(pgbench -S -n -c "$CLIENTS" -j 2 -T "$SECS" "$2" 2>&1) || { echo "$out" >&2; exit 1; }
    [[ -n "$3" ]] && t1=$(ticks "$3")
    tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
    tx=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
    [[ -n "$3" && "$tx" -gt 0 ]] && cpu=$(awk "BEGIN { printf \"%.1f\", ($t1 - $t0) * 1000000 / $hz / $tx }")
    echo "$tps $cpu" >>"$work/results/$1"
}

gw_url() { echo "postgresql://bench:bench-pw@127.0.0.1:$1/$2?sslmode=disable"; }
mkdir -p "$work/results"
setups=(direct bouncer audit full buf bouncer_u audit_u full_u buf_u)
url_of() {
    case $1 in
        direct) echo "postgresql://postgres:$pw@127.0.0.1:$pg_port/bench?sslmode=disable" ;;
        bouncer) echo "postgresql://bench@127.0.0.1:$bouncer_port/bench?sslmode=disable" ;;
        bouncer_u) echo "postgresql://bench@127.0.0.1:$bouncer_port/bench_unix?sslmode=disable" ;;
        audit) gw_url "$gw_audit_port" bench ;;
        audit_u) gw_url "$gw_audit_port" bench_unix ;;
        full) gw_url "$gw_full_port" bench ;;
        full_u) gw_url "$gw_full_port" bench_unix ;;
        buf) gw_url "$gw_buf_port" bench ;;
        buf_u) gw_url "$gw_buf_port" bench_unix ;;
    esac
}
pid_of() {
    case $1 in
        direct) echo "" ;;
        bouncer*) echo "$bouncer_pid" ;;
        audit*) echo "$audit_pid" ;;
        full*) echo "$full_pid" ;;
        buf*) echo "$buf_pid" ;;
    esac
}
echo "==> pgbench -S -c $CLIENTS -T $SECS (scale $SCALE), $ROUNDS interleaved rounds"
for ((r = 1; r <= ROUNDS; r++)); do
    order=("${setups[@]}")
    if ((r % 2 == 0)); then
        order=()
        for ((k = ${#setups[@]} - 1; k >= 0; k--)); do order+=("${setups[k]}"); done
    fi
    for sname in "${order[@]}"; do
        bench "$sname" "$(url_of "$sname")" "$(pid_of "$sname")"
    done
    echo "    round $r done" >&2
done
# Median of column $2 of the results of setup $1.
median() { awk -v c="$2" '{ print $c }' "$work/results/$1" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for sname in "${setups[@]}"; do
    declare "tps_$sname=$(median "$sname" 1)"
    if [[ -n "$(pid_of "$sname")" ]]; then
        declare "cpu_$sname=$(median "$sname" 2)"
    else
        declare "cpu_$sname=-"
    fi
done

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
printf '| %-56s | %8s | %9s | %12s | %13s |\n' "setup (median of $ROUNDS rounds)" "tps" "vs direct" "vs pgbouncer" "proxy CPU/tx"
printf '| %-56s | %8s | %9s | %12s | %13s |\n' "--------------------------------------------------------" "--------" "---------" "------------" "-------------"
row() { # label setup pgbouncer_setup
    local t="tps_$2" b="tps_$3" c="cpu_$2" cpu
    cpu="${!c} us"
    [[ "${!c}" == - ]] && cpu="-"
    printf '| %-56s | %8.0f | %9s | %12s | %13s |\n' "$1" "${!t}" "$(ratio "${!t}" "$tps_direct")" "$(ratio "${!t}" "${!b}")" "$cpu"
}
row "direct (TCP)" direct bouncer
row "pgbouncer (session), upstream TCP" bouncer bouncer
row "guard-gateway audit-only, upstream TCP" audit bouncer
row "guard-gateway policy+masking+recording (strict), TCP" full bouncer
row "guard-gateway policy+masking+recording (buffered), TCP" buf bouncer
row "pgbouncer (session), upstream Unix socket" bouncer_u bouncer_u
row "guard-gateway audit-only, upstream Unix socket" audit_u bouncer_u
row "guard-gateway policy+masking+recording (strict), Unix" full_u bouncer_u
row "guard-gateway policy+masking+recording (buffered), Unix" buf_u bouncer_u
echo
echo "gateway RSS: ${before} KiB before, ${during} KiB with $IDLE mostly idle sessions: ~${per_session_kib} KiB per session"
