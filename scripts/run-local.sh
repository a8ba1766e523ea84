#!/usr/bin/env bash
# Runs the six services and the console as local processes against RabbitMQ
# and PostgreSQL on localhost (see scripts/dev-env.sh for the defaults). Each
# service gets its own database, created if missing. Logs go to
# .run/<service>.log; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/dev-env.sh
mkdir -p .run

declare -A PORTS=([console]=8080 [approval]=8081 [accounting]=8082 [reimbursement]=8083 [notification]=8084 [audit]=8085 [webhooks]=8086)
pids=()
stop() {
  echo; echo "stopping..."
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop EXIT INT TERM

for svc in console approval accounting reimbursement notification audit webhooks; do
  if curl -fsS -o /dev/null "http://127.0.0.1:${PORTS[$svc]}/healthz" 2>/dev/null; then
    echo "port ${PORTS[$svc]} is already serving: is another 'make run' going?"; exit 1
  fi
done

# The broker's exchanges, queues and users first, like a migration: the
# services only check that what they use exists.
bin/brokersetup

for svc in approval accounting reimbursement notification audit webhooks; do
  HTTP_ADDR=":${PORTS[$svc]}" \
  DATABASE_URL="${PG_BASE_URL}/${svc}?sslmode=disable" \
  DATABASE_CREATE=true \
  AMQP_URL="$(as_broker_user "$svc" "$AMQP_URL")" \
  PAYOUT_INTERVAL="${PAYOUT_INTERVAL:-30s}" \
  WEBHOOK_ALLOW_PRIVATE=true \
    "bin/$svc" >".run/$svc.log" 2>&1 &
  pids+=($!)
done

# The console: no database; the services' URLs, the broker's management API
# (as its own monitoring user) and the operator's broker user, so finance
# can replay dead letters from the system page.
RABBITMQ_API="${RABBITMQ_API:-http://127.0.0.1:15672}"
HTTP_ADDR=":8080" \
AMQP_URL="$(as_broker_user console "$AMQP_URL")" \
OPERATOR_AMQP_URL="$(as_broker_user expenseflow-operator "$AMQP_URL")" \
RABBITMQ_API="$(sed -E "s#//([^@/]*@)?#//console:${BROKER_DEV_PASSWORD_PREFIX}console@#" <<<"$RABBITMQ_API")" \
APPROVAL_URL=http://127.0.0.1:8081 ACCOUNTING_URL=http://127.0.0.1:8082 REIMBURSEMENT_URL=http://127.0.0.1:8083 \
NOTIFICATION_URL=http://127.0.0.1:8084 AUDIT_URL=http://127.0.0.1:8085 WEBHOOKS_URL=http://127.0.0.1:8086 \
  bin/console >.run/console.log 2>&1 &
pids+=($!)

for svc in approval accounting reimbursement notification audit webhooks console; do
  until curl -fsS "http://127.0.0.1:${PORTS[$svc]}/readyz" >/dev/null 2>&1; do
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null || { echo "a service exited during start-up; see .run/*.log"; exit 1; }
    done
    sleep 0.2
  done
  echo "$svc ready on http://127.0.0.1:${PORTS[$svc]}  (log: .run/$svc.log)"
done
cat <<'BANNER'

All six services and the console are up.

  console   http://127.0.0.1:8080   sign in as a demo user and watch a claim move

  webhooks  http://127.0.0.1:8086   finance registers receivers: docs/patterns/webhooks.md, "Try it"
            (WEBHOOK_ALLOW_PRIVATE=true here, so a receiver on this machine may be one)

  demo users (tokens: make -s token AS=<id>)
    alice, erin   employee   submit claims, withdraw their own
    bob, frank    manager    approve or reject others' claims
    carol         finance    run payouts, replay dead letters
    dave          auditor    read everything, change nothing

Ctrl-C stops everything.
BANNER
wait
