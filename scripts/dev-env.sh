# Shared defaults for running expenseflow locally; sourced by the other scripts.
# Every value can be overridden from the environment.
# No JWT_SECRET: DEV_MODE uses the public development key (services warn).
export DEV_MODE="${DEV_MODE:-true}"
export AMQP_URL="${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}"
export PG_BASE_URL="${PG_BASE_URL:-postgres://postgres@127.0.0.1:5432}"
export LOG_LEVEL="${LOG_LEVEL:-info}"
# AMQP_URL is an administrator's: brokersetup declares the topology and
# creates one broker user per service with it. Each service connects as its
# own user (docs/security.md, "The bus"); development passwords are public.
BROKER_DEV_PASSWORD_PREFIX="DEV-ONLY-" # topology.DevPassword
as_broker_user() { # as_broker_user <user> <amqp-url>: the URL with that user's credentials
  sed -E "s#//[^@/]*@#//$1:${BROKER_DEV_PASSWORD_PREFIX}$1@#" <<<"$2"
}
