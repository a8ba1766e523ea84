#!/usr/bin/env bash
# The test command of the README and of CI: formatting, vet, the layering
# rule, then unit, component and end-to-end tests with the race detector.
# Tests reach PostgreSQL and RabbitMQ through TEST_POSTGRES_URL / TEST_AMQP_URL
# (see pkg/testinfra); without them they start containers with testcontainers.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [[ -n "$unformatted" ]]; then echo "not gofmt-ed:"; echo "$unformatted"; exit 1; fi

echo "== go vet"
go vet ./...

echo "== layering: domain packages import no infrastructure"
scripts/check-layers.sh

[[ "${1:-}" == "lint" ]] && exit 0

echo "== tests (unit, component, e2e)"
go test -race -count=1 -timeout 20m ./...
