#!/usr/bin/env bash
# Installs the system programs the tests and benchmarks use, when they are missing:
#   postgres  - PostgreSQL server programs (initdb, pg_ctl), for the PostgreSQL half of the suite
#   wrk       - HTTP load generator, for `make bench`
#   pgbouncer - PgBouncer, the connection pooler the suite starts in front of PostgreSQL in
#               transaction mode (tests/pgbouncer.py)
#   chromium  - Debian's headless Chromium, which the browser tests drive through Playwright
#               (Playwright's own browser download is not used)
#   axe       - axe-core from npm (the accessibility checker the browser tests inject into each
#               page), installed once into GIFTWELL_AXE_DIR (default ~/.cache/giftwell/axe)
# Usage: scripts/ensure-system-deps.sh postgres [chromium wrk ...]
set -euo pipefail

have_pg() {
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "missing system packages: $*; install them (as root: apt-get install -y $*)" >&2
    exit 1
  fi
  if [ -z "${_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    _APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

for dep in "$@"; do
  case "$dep" in
    postgres) have_pg || apt_install postgresql ;;
    chromium) [ -x /usr/bin/chromium ] || apt_install chromium ;;
    pgbouncer) { command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]; } || apt_install pgbouncer ;;
    wrk) command -v wrk >/dev/null 2>&1 || apt_install wrk ;;
    axe)
      axe_dir="${GIFTWELL_AXE_DIR:-$HOME/.cache/giftwell/axe}"
      if [ ! -f "$axe_dir/node_modules/axe-core/axe.min.js" ]; then
        command -v npm >/dev/null 2>&1 || apt_install npm
        mkdir -p "$axe_dir"
        npm install --silent --no-audit --no-fund --prefix "$axe_dir" "axe-core@4.14.1" >/dev/null
      fi ;;
    *) echo "unknown dependency: $dep" >&2; exit 2 ;;
  esac
done
