#!/usr/bin/env bash
# Side-by-side masking speed (and accuracy) on one generated corpus, in one run:
#   cat (the copy limit), guard-gateway mask (release), Hyperscan/Vectorscan with guard-mask's
#   detector regexes (no validators), and Presidio's analyzer with regex recognizers only (on a
#   slice: it is too slow for the whole corpus).
#
# Usage: benches/scripts/mask-side-by-side.sh [MEGABYTES (default 100)] [PRESIDIO_MB (default 1)]
# Not part of CI (minutes). Run as root it installs what is missing: Debian libhyperscan-dev
# or libvectorscan-dev (whichever is installed or installable; they conflict), pkg-config, a
# C compiler, and a Python venv with presidio-analyzer (spaCy comes with it; the model is
# spacy.blank("en") saved to disk, no download). PostgreSQL packages are never touched.
# Environment: MASK_BENCH_DIR (default /var/tmp/guard-mask-bench), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
MB=${1:-100}
PMB=${2:-1}
work=${MASK_BENCH_DIR:-/var/tmp/guard-mask-bench}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/guard-target}
mkdir -p "$work"

say() { printf '\n==> %s\n' "$*" >&2; }

# ---------------------------------------------------------------- set-up
if ! pkg-config --exists libhs 2>/dev/null || ! command -v cc >/dev/null || [[ ! -x /usr/bin/time ]]; then
    [[ $(id -u) -eq 0 ]] || { echo "install libhyperscan-dev (or libvectorscan-dev), pkg-config and a C compiler" >&2; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    hs=libhyperscan-dev
    # Prefer whichever is already installed; otherwise Hyperscan where it exists (x86), else
    # Vectorscan. Both install the libhs pkg-config module.
    if dpkg -s libvectorscan-dev >/dev/null 2>&1; then hs=libvectorscan-dev
    elif ! apt-cache policy libhyperscan-dev | grep -q 'Candidate: [0-9]'; then hs=libvectorscan-dev; fi
    say "installing $hs"
    apt-get install -y -q --no-install-recommends "$hs" pkg-config build-essential time >/dev/null
fi
venv="$work/presidio-venv"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import presidio_analyzer' 2>/dev/null; then
    say "installing presidio-analyzer into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q presidio-analyzer
fi

# ---------------------------------------------------------------- build and generate
say "building guard-gateway (release) and generating a ${MB} MB corpus"
cargo build -q --release -p guard-gateway
cargo run -q --release -p guard-mask --example gen_corpus -- "$work" "$MB"
gw="$CARGO_TARGET_DIR/release/guard-gateway"
cc -O2 -o "$work/hs_compare" benches/scripts/hs-compare/hs_compare.c $(pkg-config --cflags --libs libhs)
corpus="$work/corpus.txt"
bytes=$(stat -c %s "$corpus")

# Seconds taken by a command (stdin and stdout as given by the caller).
# Seconds taken by a command; the figure goes to fd 3 (the caller's capture), so the
# command's own stdout can be redirected.
timed() { local t0 t1; t0=$(date +%s.%N); "$@"; t1=$(date +%s.%N); awk "BEGIN { print $t1 - $t0 }" >&3; }
mbps() { awk "BEGIN { printf \"%.1f\", $bytes / 1000000 / $1 }"; }
# CPU seconds (user + sys, from wait4: microseconds, where /usr/bin/time rounds to 10 ms, a
# tenth of a low-density run) of `CMD < FILE`, the least of five runs: on this shared machine
# other work only ever adds time (a low-density run took 86 to 144 ms in five runs in a row),
# and the whole process counts (reading, building the masker, writing), where the Hyperscan
# figure is its scan alone.
cpu_seconds() { # FILE CMD...
    python3 - "$@" <<'PY'
import os, subprocess, sys
runs = []
for _ in range(5):
    with open(sys.argv[1], "rb") as f:
        p = subprocess.Popen(sys.argv[2:], stdin=f, stdout=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
    if status != 0:
        sys.exit(f"{sys.argv[2]} failed")
    runs.append(ru.ru_utime + ru.ru_stime)
print(min(runs))
PY
}

# ---------------------------------------------------------------- measure
say "measuring (2 cores shared with other work: figures are noisy)"
cat "$corpus" >/dev/null # warm the page cache
t_cat=$( { timed cat <"$corpus" >/dev/null; } 3>&1 )
t_mask=$( { timed "$gw" mask <"$corpus" >"$work/masked.txt"; } 3>&1 )
# CPU seconds of the masker: the machine is shared, wall time includes waiting.
cpu_mask=$(cpu_seconds "$corpus" "$gw" mask)
t_find=$( { timed "$gw" mask --findings <"$corpus" >"$work/guard_findings.jsonl"; } 3>&1 )
"$work/hs_compare" "$work/patterns.tsv" "$corpus" "$work/hs_regions.tsv" >"$work/hs.txt" 2>"$work/hs.err" || { cat "$work/hs.err"; exit 1; }
pbytes=$((PMB * 1024 * 1024))
"$venv/bin/python" benches/scripts/presidio_runner.py "$corpus" "$pbytes" "$work/blank_en" "$work/presidio_regions.tsv" >"$work/presidio.txt"
pcut=$(awk '/presidio_bytes/ {print $2}' "$work/presidio.txt")

echo
echo "corpus: $bytes bytes ($(wc -l <"$work/labels.tsv") labels), $work"
printf '%-46s %10s\n' "engine" "MB/s"
printf '%-46s %10s\n' "cat (copy limit)" "$(mbps "$t_cat")"
printf '%-46s %10s\n' "guard-gateway mask (masked stream)" "$(mbps "$t_mask")"
printf '%-46s %10s\n' "guard-gateway mask --findings" "$(mbps "$t_find")"
printf '%-46s %10s\n' "guard-gateway mask, per CPU second" "$(mbps "$cpu_mask")"
printf '%-46s %10s\n' "hyperscan (no start of match), per CPU second" "$(awk '/hyperscan_cpu_mb_per_s/ {print $2}' "$work/hs.txt")"
printf '%-46s %10s\n' "$(awk '/hyperscan_version/ {print "hyperscan " $2}' "$work/hs.txt") (no start of match)" "$(awk '/hyperscan_mb_per_s/ {print $2}' "$work/hs.txt")"
printf '%-46s %10s\n' "hyperscan with start of match" "$(awk '/hyperscan_som_mb_per_s/ {print $2}' "$work/hs.txt")"
printf '%-46s %10s\n' "presidio regex-only (${pcut}-byte slice)" "$(awk '/presidio_mb_per_s/ {print $2}' "$work/presidio.txt")"
grep -v '^hyperscan_matches' "$work/hs.err" | sed 's/^/note: /' || true

# ---------------------------------------------------------------- low-density corpus
# The corpus above is the worst case (a value or look-alike every ~40 bytes). Most logs and
# result sets are sparse: the same record shapes with one sensitive value per ~50 records.
say "low-density corpus: ${MB} MB, measuring guard and hyperscan (CPU seconds)"
sp="$work/sparse"
cargo run -q --release -p guard-mask --example gen_corpus -- "$sp" "$MB" "$((0x6d61736b))" sparse
sbytes=$(stat -c %s "$sp/corpus.txt")
cat "$sp/corpus.txt" >/dev/null
cpu_sparse=$(cpu_seconds "$sp/corpus.txt" "$gw" mask)
"$gw" mask --findings <"$sp/corpus.txt" >"$sp/guard_findings.jsonl"
"$work/hs_compare" "$sp/patterns.tsv" "$sp/corpus.txt" "$sp/hs_regions.tsv" >"$sp/hs.txt" 2>"$sp/hs.err" || { cat "$sp/hs.err"; exit 1; }
echo
echo "low-density corpus: $sbytes bytes ($(wc -l <"$sp/labels.tsv") labels), $sp"
printf '%-46s %10s\n' "guard-gateway mask, per CPU second" "$(awk "BEGIN { printf \"%.1f\", $sbytes / 1000000 / $cpu_sparse }")"
printf '%-46s %10s\n' "hyperscan (no start of match), per CPU second" "$(awk '/hyperscan_cpu_mb_per_s/ {print $2}' "$sp/hs.txt")"
printf '%-46s %10s\n' "hyperscan with start of match" "$(awk '/hyperscan_som_mb_per_s/ {print $2}' "$sp/hs.txt")"

echo
echo "== guard-mask accuracy (exact span and detector) on the whole corpus"
python3 benches/scripts/mask-eval.py "$work/labels.tsv" "$work/guard_findings.jsonl" --mode exact
echo
echo "== hyperscan accuracy (same regexes, no validators; merged matches overlapping a label of the same detector)"
python3 benches/scripts/mask-eval.py "$work/labels.tsv" "$work/hs_regions.tsv" --format tsv --mode overlap
echo
echo "== guard-mask accuracy by the same overlap measure"
python3 benches/scripts/mask-eval.py "$work/labels.tsv" "$work/guard_findings.jsonl" --mode overlap | tail -1
echo
echo "== low-density corpus: guard-mask accuracy (exact)"
python3 benches/scripts/mask-eval.py "$sp/labels.tsv" "$sp/guard_findings.jsonl" --mode exact | tail -1
echo "== low-density corpus: hyperscan accuracy (overlap)"
python3 benches/scripts/mask-eval.py "$sp/labels.tsv" "$sp/hs_regions.tsv" --format tsv --mode overlap | tail -1
echo
echo "== presidio accuracy on its slice (overlap; recall per our label type, precision per its entity)"
python3 benches/scripts/mask-eval.py "$work/labels.tsv" "$work/presidio_regions.tsv" --format tsv --mode overlap --limit "$pcut" --map presidio
