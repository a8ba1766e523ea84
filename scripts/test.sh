#!/usr/bin/env bash
# The test command of the README and of CI: formatting, vet, golangci-lint,
# the layering rule, the AsyncAPI document and the Mermaid diagrams (need node and npm),
# then unit, component and end-to-end tests with the race detector, and last,
# on its own, the test that stops and starts RabbitMQ.
# Tests reach PostgreSQL and RabbitMQ through TEST_POSTGRES_URL / TEST_AMQP_URL
# (see pkg/testinfra). With neither set, the servers `make infra` installs are
# used when they answer on localhost; otherwise tests start containers with
# testcontainers.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${TEST_POSTGRES_URL:-}${TEST_AMQP_URL:-}" ]] &&
   pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
  export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
  export TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:5672/"
  echo "== using the PostgreSQL and RabbitMQ on localhost (set TEST_POSTGRES_URL / TEST_AMQP_URL for others)"
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [[ -n "$unformatted" ]]; then echo "not gofmt-ed:"; echo "$unformatted"; exit 1; fi

echo "== go vet (and the e2e files behind build tags: the exercises, the broker outage)"
go vet ./...
go vet -tags 'exercises brokeroutage' ./e2e/

echo "== golangci-lint (default linters, .golangci.yml), pinned"
GOLANGCI_LINT_VERSION=v2.15.0
if ! bin/golangci-lint version 2>/dev/null | grep -q "version ${GOLANGCI_LINT_VERSION#v} "; then
  GOBIN="$PWD/bin" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@${GOLANGCI_LINT_VERSION}"
fi
bin/golangci-lint run ./...
bin/golangci-lint run --build-tags exercises,brokeroutage ./e2e/

echo "== layering: domain packages import no infrastructure"
scripts/check-layers.sh

echo "== AsyncAPI: docs/asyncapi.yaml parsed by @asyncapi/parser, payload schemas compiled"
# Installed from the lock file when missing or older than the lock (a fresh
# clone has no node_modules). No install scripts: none is needed, and one
# dependency's postinstall only reports usage statistics.
if [[ ! tools/asyncapi/node_modules/.package-lock.json -nt tools/asyncapi/package-lock.json ]]; then
  npm ci --prefix tools/asyncapi --no-audit --no-fund --ignore-scripts
fi
node tools/asyncapi/validate.mjs

echo "== Mermaid: every diagram in the Markdown files parsed by mermaid"
if [[ ! tools/docs/node_modules/.package-lock.json -nt tools/docs/package-lock.json ]]; then
  npm ci --prefix tools/docs --no-audit --no-fund --ignore-scripts
fi
node tools/docs/mermaid.mjs

[[ "${1:-}" == "lint" ]] && exit 0

echo "== tests (unit, component, e2e)"
# deploy/k8s only renders manifests (no concurrency to race-check) but
# pulls in the Kubernetes and operator types: built without -race it costs
# seconds instead of minutes.
go test -race -count=1 -timeout 20m $(go list ./... | grep -v '/deploy/k8s$')
go test -count=1 ./deploy/k8s/

echo "== RabbitMQ stopped and started mid-burst (alone: it stops the broker every test shares)"
go test -race -count=1 -timeout 10m -tags brokeroutage -run '^TestRabbitMQStoppedAndStartedMidBurst$' ./e2e/
