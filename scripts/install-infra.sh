#!/usr/bin/env bash
# Installs RabbitMQ, PostgreSQL and Chromium (for the console's browser test)
# from Debian/Ubuntu packages and starts the first two, for running
# expenseflow without Docker (`make infra`, then `make run`).
# Safe to run again: it installs only what is missing, starts only what is
# stopped, and changes configuration only if it is not as needed.
#
# What `make run` and the tests expect afterwards:
#   RabbitMQ   127.0.0.1:5672, guest/guest, management API on :15672
#   PostgreSQL 127.0.0.1:5432, user postgres, trust auth from localhost
set -euo pipefail
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"

missing=()
command -v rabbitmq-server >/dev/null 2>&1 || missing+=(rabbitmq-server)
command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
command -v pg_isready >/dev/null 2>&1 || missing+=(postgresql-client)
# The console's browser test drives Debian's Chromium headless (never a
# browser a test tool downloads).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if ((${#missing[@]} > 0)); then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

# RabbitMQ, with the management API (tests create one vhost per test through it).
if ! $SUDO rabbitmq-diagnostics -q check_running >/dev/null 2>&1; then
  echo "starting RabbitMQ"
  $SUDO rabbitmq-server -detached
  for _ in $(seq 60); do $SUDO rabbitmq-diagnostics -q check_running >/dev/null 2>&1 && break; sleep 1; done
fi
$SUDO rabbitmq-plugins enable --quiet rabbitmq_management >/dev/null

# PostgreSQL: the first cluster, trusting local TCP connections of the
# postgres user — fine on a laptop, never on a shared machine.
version=$(ls /etc/postgresql | sort -V | tail -1)
hba="/etc/postgresql/$version/main/pg_hba.conf"
if ! $SUDO grep -qE '^host\s+all\s+(all|postgres)\s+127\.0\.0\.1/32\s+trust' "$hba"; then
  echo "allowing trust auth for postgres@127.0.0.1 in $hba"
  $SUDO sed -i '1i host all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust' "$hba"
  reload=1
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "starting PostgreSQL $version"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 60); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
elif [[ -n "${reload:-}" ]]; then
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main reload
fi

pg_isready -h 127.0.0.1 -p 5432
echo "RabbitMQ and PostgreSQL are up."
