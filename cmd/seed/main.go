// Command seed fills a running expenseflow with a handful of demo claims in
// every state a reader wants to see (submitted, approved, rejected, withdrawn
// and paid) through the public REST API, as the people of the demo directory
// would: alice and erin submit, bob and frank decide, carol runs a payout
// batch. Every event so takes the real path (outbox, broker, projections,
// ledger, inbox, audit log), and the dashboards and traces have something to
// show.
//
//	make seed         # against a `make run` stack
//	docker compose up # the seed service runs once, when the services are healthy
//
// It first waits until all five services are ready: one that has not
// declared its queues yet would miss the events, since the broker drops what
// no queue is bound to. It can be run again: a claim that is already there
// (same employee and description) is reused, every command carries an
// Idempotency-Key, and a repeated decision is harmless, so a second run
// changes nothing and prints the same table.
//
// Configuration, from the environment: APPROVAL_URL, ACCOUNTING_URL,
// REIMBURSEMENT_URL, NOTIFICATION_URL, AUDIT_URL (default
// http://127.0.0.1:8081 to :8085); JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE and
// DEV_MODE to mint the users' tokens, as cmd/devtoken does; USER_DIRECTORY;
// SEED_TIMEOUT, the bound on the whole run (default 3m).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/caarlos0/env/v11"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var cfg config
	if err := env.Parse(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(2)
	}
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}
