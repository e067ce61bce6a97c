#!/usr/bin/env bash
# Makes sure the servers the tests use are installed and running on this machine:
# PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379.
# Idempotent: does nothing when both already answer.
set -euo pipefail

log() { printf '[services] %s\n' "$*" >&2; }

need_apt=()
command -v pg_ctlcluster >/dev/null 2>&1 || need_apt+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if ((${#need_apt[@]})); then
  log "installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  log 'starting PostgreSQL'
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 -q || { log 'PostgreSQL did not start'; exit 1; }

# A cluster that Debian just created asks for a password (scram) on 127.0.0.1; the tests connect as
# postgres without one, as on the development machines: trust local TCP connections.
if ! psql -h 127.0.0.1 -U postgres -w -d postgres -tAc 'select 1' >/dev/null 2>&1; then
  hba=$(su postgres -c "psql -tAc 'show hba_file'" 2>/dev/null || true)
  [[ -n $hba && -f $hba ]] || { log 'PostgreSQL refuses user postgres on 127.0.0.1 and pg_hba.conf was not found'; exit 1; }
  log "trusting 127.0.0.1 and ::1 in $hba"
  sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
  su postgres -c "psql -tAc 'select pg_reload_conf()'" >/dev/null
  sleep 1
  psql -h 127.0.0.1 -U postgres -w -d postgres -tAc 'select 1' >/dev/null 2>&1 ||
    { log 'PostgreSQL still refuses user postgres on 127.0.0.1'; exit 1; }
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log 'starting Redis'
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { log 'Redis did not start'; exit 1; }
log 'PostgreSQL and Redis are up'

# ---------------------------------------------------------------------------------------------------
# PgBouncer on 127.0.0.1:6432 in transaction pooling mode, in front of the PostgreSQL above, for the
# PostgreSQL adapters' tests (test/postgres-pgbouncer.test.ts). Any database name is forwarded to
# 127.0.0.1:5432; user postgres, trust auth. Its files live in $SLACK_ROTATOR_PGBOUNCER_DIR
# (default /var/tmp/slack-rotator-pgbouncer). PgBouncer refuses to run as root, so as root it
# drops to the postgres user. Idempotent; fails loudly.
# ---------------------------------------------------------------------------------------------------
pgbouncer_bin=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
if [[ ! -x $pgbouncer_bin ]]; then
  log 'installing pgbouncer'
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
  pgbouncer_bin=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
  [[ -x $pgbouncer_bin ]] || { log 'pgbouncer is not installed and could not be'; exit 1; }
fi
if ! pg_isready -h 127.0.0.1 -p 6432 -q 2>/dev/null; then
  log 'starting PgBouncer (transaction pooling) on 127.0.0.1:6432'
  pgb_dir=${SLACK_ROTATOR_PGBOUNCER_DIR:-/var/tmp/slack-rotator-pgbouncer}
  mkdir -p "$pgb_dir"
  printf '"postgres" ""\n' >"$pgb_dir/userlist.txt"
  cat >"$pgb_dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = 6432
unix_socket_dir =
auth_type = trust
auth_file = $pgb_dir/userlist.txt
admin_users = postgres
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 40
ignore_startup_parameters = extra_float_digits
logfile = $pgb_dir/pgbouncer.log
pidfile = $pgb_dir/pgbouncer.pid
INI
  pgb_user=()
  if [[ $(id -u) -eq 0 ]]; then
    chown -R postgres: "$pgb_dir"
    pgb_user=(-u postgres)
  fi
  "$pgbouncer_bin" -d "${pgb_user[@]}" "$pgb_dir/pgbouncer.ini" ||
    { log "PgBouncer did not start; see $pgb_dir/pgbouncer.log"; tail -n 20 "$pgb_dir/pgbouncer.log" >&2 || true; exit 1; }
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 6432 -q && break; sleep 0.2; done
fi
pg_isready -h 127.0.0.1 -p 6432 -q || { log 'PgBouncer is not answering on 127.0.0.1:6432'; exit 1; }
pgb_mode=$(psql -h 127.0.0.1 -p 6432 -U postgres -d pgbouncer -tAc 'SHOW CONFIG' | awk -F'|' '$1 == "pool_mode" { print $2 }')
[[ $pgb_mode == transaction ]] ||
  { log "the PgBouncer on 127.0.0.1:6432 runs pool_mode=${pgb_mode:-unknown}, not transaction"; exit 1; }
log 'PgBouncer is up (transaction pooling)'

# ---------------------------------------------------------------------------------------------------
# Debian's Chromium at /usr/bin/chromium, for the dashboard test (packages/server/test/
# dashboard-chromium.test.ts, driven by playwright-core; it fails when the browser is missing).
# ---------------------------------------------------------------------------------------------------
if ! command -v chromium >/dev/null 2>&1; then
  log 'installing chromium'
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  command -v chromium >/dev/null 2>&1 || { log 'chromium is not installed and could not be'; exit 1; }
fi
log "Chromium is installed ($(command -v chromium))"
