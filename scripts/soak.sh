#!/usr/bin/env bash
# make soak: starts the six services with fresh databases (soak_<service>,
# dropped and recreated) and a fresh RabbitMQ vhost, runs bin/soak against
# them, and stops everything. The run's exit code is the script's.
#   FLOWS (2000), CONCURRENCY (16): the load; SOAK_ARGS: more bin/soak flags.
#   FAULTS: faults to inject while the flows run, comma-separated:
#     kill    SIGKILL a random service (each runs under a supervisor loop
#             here that starts it again, as a container runtime would);
#     broker  stop and start RabbitMQ (rabbitmqctl, or RABBITMQCTL) — every
#             client of this broker sees it, a `make run` included.
#   FAULT_EVERY (10s): the pause before each fault is random, up to this.
#   VOIDS: void every n-th claim after its approval (e.g. 10), racing the
#     payout loop; those flows end voided instead of paid.
#   BUDGETS=1: book the claims to cost centers with budgets, so every
#     approve reserves against one (approval's budget check at accounting).
#   WEBHOOKS=1: register a webhook receiver of every event (in bin/soak;
#     it refuses a tenth of the POSTs, so retries happen), and check at the
#     end that every event reached it or visibly failed.
# It uses its own ports (9181-9186), databases and vhost, so it neither needs
# nor disturbs a `make run` in progress. Service logs go to .run/soak-<service>.log;
# the databases stay until the next run, for inspection after a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/dev-env.sh
mkdir -p .run

declare -A PORTS=([approval]=9181 [accounting]=9182 [reimbursement]=9183 [notification]=9184 [audit]=9185 [webhooks]=9186)
SERVICES=(approval accounting reimbursement notification audit webhooks)
RABBITMQ_API="${RABBITMQ_API:-http://guest:guest@127.0.0.1:15672}"
VHOST=expenseflow-soak
AMQP_SOAK="${AMQP_URL%/}/${VHOST}"

api() { curl -fsS -o /dev/null -H 'content-type: application/json' -X "$1" "${RABBITMQ_API}$2" ${3:+-d "$3"}; }
psql_admin() { PGOPTIONS="-c client_min_messages=warning" psql "${PG_BASE_URL}/postgres?sslmode=disable" -qtAc "$1" >/dev/null; }

echo "== fresh databases soak_* and vhost ${VHOST}"
for svc in "${SERVICES[@]}"; do
  psql_admin "DROP DATABASE IF EXISTS soak_${svc} WITH (FORCE)"
  psql_admin "CREATE DATABASE soak_${svc}"
done
api DELETE "/api/vhosts/${VHOST}" 2>/dev/null || true
api PUT "/api/vhosts/${VHOST}"
api PUT "/api/permissions/${VHOST}/guest" '{"configure":".*","write":".*","read":".*"}'
AMQP_URL="$AMQP_SOAK" RABBITMQ_API="$RABBITMQ_API" bin/brokersetup

# Each service runs under a supervisor loop that starts it again whenever it
# dies (a -faults kill run kills them), until .run/soak.stop exists. The
# current process id of each is in .run/soak-pids/<service>.pid.
rm -rf .run/soak.stop .run/soak-pids && mkdir -p .run/soak-pids
supervise() {
  local svc=$1
  while [[ ! -e .run/soak.stop ]]; do
    HTTP_ADDR="127.0.0.1:${PORTS[$svc]}" \
    DATABASE_URL="${PG_BASE_URL}/soak_${svc}?sslmode=disable" \
    AMQP_URL="$(as_broker_user "$svc" "$AMQP_SOAK")" \
    AUDIT_URL="http://127.0.0.1:${PORTS[audit]}" \
    ACCOUNTING_URL="http://127.0.0.1:${PORTS[accounting]}" \
    PPROF_ADDR="${SOAK_PPROF:+127.0.0.1:$(( PORTS[$svc] + 100 ))}" \
    PAYOUT_INTERVAL=0 \
    WEBHOOK_ALLOW_PRIVATE=true WEBHOOK_RETRY_BASE=200ms WEBHOOK_RETRY_MAX=5s WEBHOOK_MAX_ATTEMPTS=100 \
      "bin/$svc" >>".run/soak-$svc.log" 2>&1 &
    local pid=$!
    echo $pid >".run/soak-pids/$svc.pid"
    # How long its first start took, from exec to a ready /readyz: the
    # bench reports it (the databases are fresh, so this includes migrating).
    if [[ ! -e ".run/soak-pids/$svc.ready-ms" ]]; then
      ( t0=$(date +%s%N)
        for _ in $(seq 3000); do  # a minute at most
          if curl -fsS "http://127.0.0.1:${PORTS[$svc]}/readyz" >/dev/null 2>&1; then
            echo $(( ($(date +%s%N) - t0) / 1000000 )) >".run/soak-pids/$svc.ready-ms"; break
          fi
          sleep 0.02
        done ) &
    fi
    wait $pid 2>/dev/null || true  # (no "Killed" job report: the soak prints its faults)
    [[ -e .run/soak.stop ]] || { echo "soak.sh: $svc exited; starting it again" >>".run/soak-$svc.log"; sleep 0.2; }
  done
}
supervisors=()
stop() {
  touch .run/soak.stop
  for svc in "${SERVICES[@]}"; do
    kill -TERM "$(cat ".run/soak-pids/$svc.pid" 2>/dev/null)" 2>/dev/null || true
  done
  wait "${supervisors[@]}" 2>/dev/null || true
  api DELETE "/api/vhosts/${VHOST}" 2>/dev/null || true
}
trap stop EXIT INT TERM

for svc in "${SERVICES[@]}"; do
  : >".run/soak-$svc.log"
  supervise "$svc" &
  supervisors+=($!)
done
for svc in "${SERVICES[@]}"; do
  tries=0
  until curl -fsS "http://127.0.0.1:${PORTS[$svc]}/readyz" >/dev/null 2>&1; do
    (( ++tries < 300 )) || { echo "$svc is not ready after 60 s; see .run/soak-$svc.log"; exit 1; }
    sleep 0.2
  done
done
echo "== all six services up; soaking"

bin/soak -flows "${FLOWS:-2000}" -concurrency "${CONCURRENCY:-16}" \
  -approval-url "http://127.0.0.1:${PORTS[approval]}" -reimbursement-url "http://127.0.0.1:${PORTS[reimbursement]}" \
  -accounting-url "http://127.0.0.1:${PORTS[accounting]}" ${BUDGETS:+-budgets} \
  ${WEBHOOKS:+-webhooks-url "http://127.0.0.1:${PORTS[webhooks]}"} \
  -db "${PG_BASE_URL}/soak_{service}?sslmode=disable" -amqp "$AMQP_SOAK" -rabbitmq-api "$RABBITMQ_API" \
  -faults "${FAULTS:-}" -fault-every "${FAULT_EVERY:-10s}" -void-every "${VOIDS:-0}" -pids .run/soak-pids ${SOAK_ARGS:-}
