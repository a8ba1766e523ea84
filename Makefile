# expenseflow — one command each for the things you do most.
#   make run    all six services and the console (:8080) as local processes
#               (RabbitMQ + PostgreSQL on localhost)
#   make test   format, vet, layering check, unit + component + end-to-end tests
#   make soak   FLOWS claims through a fresh local stack (FAULTS=kill,broker to break
#               it meanwhile), then every invariant checked
#   make bench  the same, measured against pgbench on this machine (docs/performance.md)
SERVICES := approval accounting reimbursement notification audit webhooks

.PHONY: build run test lint token fuzz soak infra
build: ## static binaries in bin/, built like the Dockerfile builds them
	@mkdir -p bin
	CGO_ENABLED=0 go build -trimpath -o bin/ $(addprefix ./services/,$(SERVICES)) ./services/console ./cmd/devtoken ./cmd/brokersetup

infra: ## install (Debian/Ubuntu packages) RabbitMQ, PostgreSQL and Chromium (browser test), start the first two; idempotent
	@scripts/install-infra.sh

run: build ## start all services; Ctrl-C stops them all
	@scripts/run-local.sh

test: ## everything CI runs
	@scripts/test.sh

lint: ## gofmt, go vet and the layering check only
	@scripts/test.sh lint

fuzz: ## every fuzz target for FUZZTIME each (default 10m); make test runs their seeds
	@scripts/fuzz.sh

# AS names the demo user (make's own default for AS is the assembler, "as",
# hence the origin test). USER is taken too, but only from make's command line
# (make token USER=bob): from the environment it is your login name.
ifeq ($(origin AS),default)
AS := $(if $(filter command line,$(origin USER)),$(USER),alice)
endif
token: ## print a token for a demo user and nothing else: ALICE=$$(make -s token AS=alice)
	@CGO_ENABLED=0 go build -trimpath -o bin/ ./cmd/devtoken
	@DEV_MODE=$${DEV_MODE:-true} bin/devtoken $(AS)

soak: build ## FLOWS (2000) claims at CONCURRENCY (16) through a fresh stack, FAULTS (e.g. kill,broker) injected, VOIDS=n voids every n-th, BUDGETS=1 books to budgets, WEBHOOKS=1 registers a receiver of every event, then the invariants
	CGO_ENABLED=0 go build -trimpath -o bin/ ./cmd/soak
	@FLOWS=$(FLOWS) CONCURRENCY=$(CONCURRENCY) FAULTS=$(FAULTS) VOIDS=$(VOIDS) BUDGETS=$(BUDGETS) WEBHOOKS=$(WEBHOOKS) scripts/soak.sh

.PHONY: seed
seed: ## demo claims in every state through the REST API of a running `make run`; safe to repeat
	CGO_ENABLED=0 go build -trimpath -o bin/ ./cmd/seed
	@DEV_MODE=$${DEV_MODE:-true} bin/seed

.PHONY: k8s
k8s: ## render the Kubernetes manifests of OVERLAY (dev, the default, or prod) to stdout: make k8s OVERLAY=prod
	@go run sigs.k8s.io/kustomize/kustomize/v5@v5.8.2 build deploy/k8s/overlays/$${OVERLAY:-dev}

.PHONY: broker-files
broker-files: ## regenerate the broker users for compose (definitions) and k8s from pkg/topology
	go run ./cmd/brokersetup definitions > deploy/rabbitmq/definitions.json
	go run ./cmd/brokersetup k8s > deploy/k8s/base/broker-users.yaml

.PHONY: screenshots
screenshots: ## the console's screenshots in docs/images, taken by its browser test (needs chromium: make infra)
	CONSOLE_SCREENSHOTS=$(CURDIR)/docs/images go test -count=1 -run TestConsoleShowsAClaimMoveLive ./e2e/

.PHONY: bench
bench: build ## FLOWS (3000) through a fresh stack against pgbench's ceiling in the same run (RATE= flows/s paces it; PGSS=1 loads pg_stat_statements); report in results/
	CGO_ENABLED=0 go build -trimpath -o bin/ ./cmd/soak
	@FLOWS=$(FLOWS) CONCURRENCY=$(CONCURRENCY) RATE=$(RATE) PGSS=$(PGSS) scripts/bench.sh

.PHONY: bench-broker
bench-broker: ## what a flow's messages cost RabbitMQ with no service behind them, and the best ratio to pgbench's ceiling that leaves; report in results/
	CGO_ENABLED=0 go build -trimpath -o bin/ ./cmd/brokerfloor
	bin/brokerfloor -out results/broker-floor-$$(date -u +%Y%m%dT%H%M%SZ).md
