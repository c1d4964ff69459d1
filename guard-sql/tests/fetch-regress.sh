#!/usr/bin/env bash
# Fetches PostgreSQL 15's regression-test SQL files (src/test/regress/sql/*.sql) from Debian's
# `postgresql-15` source package into $GUARD_REGRESS_DIR (default /var/tmp/guard-regress/sql),
# for tests/regress_corpus.rs. The files are never committed: they are PostgreSQL's, fetched at
# test time. Cached: does nothing when the directory already holds the files.
#
# Uses a private apt configuration (deb-src for bookworm) so the machine's own apt sources and
# state are not touched. Needs apt-get, tar and network access to deb.debian.org.
set -euo pipefail

dest="${GUARD_REGRESS_DIR:-/var/tmp/guard-regress/sql}"
if compgen -G "$dest/*.sql" >/dev/null && [[ $(ls "$dest"/*.sql | wc -l) -ge 100 ]]; then
    echo "regress corpus present: $dest ($(ls "$dest"/*.sql | wc -l) files)"
    exit 0
fi

work="$(dirname "$dest")/apt"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/download" "$dest"
# bookworm main only: the security archive is not reachable from every build machine.
cat >"$work/sources.list" <<'SOURCES'
deb-src http://deb.debian.org/debian bookworm main
SOURCES

apt_opts=(
    -o "Dir::Etc::SourceList=$work/sources.list"
    -o "Dir::Etc::SourceParts=$work/no-parts"
    -o "Dir::State::Lists=$work/lists"
    -o "Dir::Cache=$work/cache"
    -o "Debug::NoLocking=1"
    -o "APT::Sandbox::User=root"
)
mkdir -p "$work/no-parts"
apt-get "${apt_opts[@]}" -q update >"$work/update.log" 2>&1 || { cat "$work/update.log"; exit 1; }
(cd "$work/download" && apt-get "${apt_opts[@]}" -q source --download-only postgresql-15) \
    >"$work/source.log" 2>&1 || { cat "$work/source.log"; exit 1; }

orig=$(ls "$work"/download/postgresql-15_*.orig.tar.* | head -1)
tmp=$(mktemp -d)
tar -xf "$orig" -C "$tmp" --wildcards '*/src/test/regress/sql/*.sql'
cp "$tmp"/*/src/test/regress/sql/*.sql "$dest/"
rm -rf "$tmp"
echo "regress corpus fetched: $dest ($(ls "$dest"/*.sql | wc -l) files from $(basename "$orig"))"
