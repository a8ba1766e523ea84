# Shared defaults for running expenseflow locally; sourced by the other scripts.
# Every value can be overridden from the environment.
# No JWT_SECRET: DEV_MODE uses the public development key (services warn).
export DEV_MODE="${DEV_MODE:-true}"
export AMQP_URL="${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}"
export PG_BASE_URL="${PG_BASE_URL:-postgres://postgres@127.0.0.1:5432}"
export LOG_LEVEL="${LOG_LEVEL:-info}"
