# expenseflow — one command each for the things you do most.
#   make run    all five services as local processes (RabbitMQ + PostgreSQL on localhost)
#   make test   format, vet, layering check, unit + component + end-to-end tests
#   make soak   FLOWS claims through a fresh local stack, then every invariant checked
SERVICES := approval accounting reimbursement notification audit

.PHONY: build run test lint token fuzz soak infra
build: ## static binaries in bin/, built like the Dockerfile builds them
	@mkdir -p bin
	CGO_ENABLED=0 go build -trimpath -o bin/ $(addprefix ./services/,$(SERVICES)) ./cmd/devtoken

infra: ## install (Debian/Ubuntu packages) and start RabbitMQ and PostgreSQL; idempotent
	@scripts/install-infra.sh

run: build ## start all services; Ctrl-C stops them all
	@scripts/run-local.sh

test: ## everything CI runs
	@scripts/test.sh

lint: ## gofmt, go vet and the layering check only
	@scripts/test.sh lint

fuzz: ## every fuzz target for FUZZTIME each (default 10m); make test runs their seeds
	@scripts/fuzz.sh

token: build ## print a token for USER (default alice): make token USER=bob
	@DEV_MODE=$${DEV_MODE:-true} bin/devtoken $${USER:-alice}

soak: build ## FLOWS (2000) claims at CONCURRENCY (16) through a fresh stack, then the invariants
	CGO_ENABLED=0 go build -trimpath -o bin/ ./cmd/soak
	@FLOWS=$(FLOWS) CONCURRENCY=$(CONCURRENCY) scripts/soak.sh
