#!/usr/bin/env bash
# make bench: the soak driver in throughput mode (or paced, RATE flows/s)
# through a fresh local stack, measured against the machine in the same run:
# pgbench -N at 8 clients first (the database's ceiling), then the flows, then
# CPU seconds per flow of every process, transactions per flow and, with
# pg_stat_statements loaded, the costliest statements. The report (Markdown)
# and a latency plot (PNG) go to results/bench-<time>/.
#   FLOWS (3000), CONCURRENCY (96: enough flows at once to keep two cores busy), RATE (0: throughput), PGBENCH_FOR (30s)
#   PGSS=1  load pg_stat_statements first (ALTER SYSTEM + a PostgreSQL
#           restart: every client of this server sees it)
# A server with autovacuum off (CI machines often turn it off) never analyzes
# a table, so a statement planned while its table was small keeps that plan
# as the table grows (docs/performance.md, "A plan made for an empty table"):
# autovacuum is turned on for the run, as on any real server, and back off
# after it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/dev-env.sh
admin="${PG_BASE_URL}/postgres?sslmode=disable"
if [[ "$(psql "$admin" -qtAc "SHOW autovacuum")" == off ]]; then
  echo "== autovacuum is off on this server: on for this run, off again after it"
  psql "$admin" -qtAc "ALTER SYSTEM SET autovacuum = on" -c "SELECT pg_reload_conf()" >/dev/null
  trap 'psql "$admin" -qtAc "ALTER SYSTEM RESET autovacuum" -c "SELECT pg_reload_conf()" >/dev/null' EXIT
fi
if [[ "${PGSS:-}" == 1 ]]; then
  libs=$(psql "$admin" -qtAc "SHOW shared_preload_libraries")
  if [[ "$libs" != *pg_stat_statements* ]]; then
    echo "== loading pg_stat_statements (restarts PostgreSQL)"
    psql "$admin" -qtAc "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main restart
  fi
fi
dir="results/bench-$(date -u +%Y%m%dT%H%M%SZ)"
# The services serve their profiles on the soak ports + 100 (9281-9285).
pprof="approval=127.0.0.1:9281,accounting=127.0.0.1:9282,reimbursement=127.0.0.1:9283,notification=127.0.0.1:9284,audit=127.0.0.1:9285,webhooks=127.0.0.1:9286"
FLOWS="${FLOWS:-3000}" CONCURRENCY="${CONCURRENCY:-96}" FAULTS="" SOAK_PPROF=1 \
  SOAK_ARGS="-bench $dir -pprof $pprof -rate ${RATE:-0} -pgbench-for ${PGBENCH_FOR:-30s} ${SOAK_ARGS:-}" scripts/soak.sh
echo "report: $dir/report.md, plot: $dir/latency.png"
