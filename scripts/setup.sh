#!/usr/bin/env bash
# Installs what Sluice's build, tests, demo and benchmarks need from Debian's
# packages, and only what is missing: quiet and quick when everything is there.
#
#   PostgreSQL server binaries  the testkit starts private servers from them
#   mariadb-server              MySQL-family source tests
#   openssl                     the testkit's TLS certificates
#   sysbench, pgloader, pgcopydb, hyperfine   peers and timing for `make bench`
#   time                        GNU /usr/bin/time: peak memory in `make bench`
#
# Running servers are never touched: nothing here stops or restarts the
# machine's PostgreSQL (5432) or MariaDB (3306). While apt runs, a
# policy-rc.d that refuses every service action is in place (unless the
# machine already has one), so no package script can restart a service;
# installed packages are not upgraded (--no-upgrade, nothing else named).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo is not installed; install the Rust toolchain (rustup) first" >&2
    exit 1
fi

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()

# Any PostgreSQL server will do for the testkit (it takes the highest major
# under /usr/lib/postgresql); install 15 where Debian has it, else the
# distribution's default major.
if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
    missing+=(postgresql-15)
fi
for package in mariadb-server openssl sysbench pgloader pgcopydb hyperfine time; do
    installed "$package" || missing+=("$package")
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "setup: missing packages ${missing[*]}; run this script as root to install them" >&2
        exit 1
    fi
    sudo=(sudo)
fi

policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# temporary, from sluice scripts/setup.sh: no service actions\nexit 101\n' |
        "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi

echo "setup: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
for index in "${!missing[@]}"; do
    if [ "${missing[$index]}" = postgresql-15 ] && ! apt-cache show postgresql-15 >/dev/null 2>&1; then
        missing[index]=postgresql
    fi
done
"${sudo[@]}" apt-get install -y -qq --no-install-recommends --no-upgrade "${missing[@]}" >/dev/null
echo "setup: done" >&2
