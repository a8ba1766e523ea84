// Command soak drives many complete claims (submit → approve → paid) through
// a running expenseflow at a chosen concurrency, printing progress every
// second; then it waits for the queues to drain, checks every invariant of
// pkg/invariants against the databases and the broker, and prints a report:
// flows/s, latency percentiles of submit, approve and approve → read models
// updated, queue depths, dead letters, outbox lag and any violation. It exits
// 1 when a flow failed or an invariant is violated, 2 when it cannot run.
//
//	make soak FLOWS=2000 CONCURRENCY=16      # fresh local stack, soak, stop
//	bin/soak -flows 500 -concurrency 8       # against a running `make run`
//
// Defaults match scripts/run-local.sh: services on 127.0.0.1:8081 (approval)
// and :8083 (reimbursement), databases <PG_BASE_URL>/<service>, the broker at
// AMQP_URL and its management API at RABBITMQ_API. Tokens are minted like
// cmd/devtoken: JWT_SECRET, or the development key with DEV_MODE=true.
// See pkg/soak for what is measured and how.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strings"

	"github.com/caarlos0/env/v11"

	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/invariants"
	"github.com/expenseflow/expenseflow/pkg/soak"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg, err := config(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	res, err := soak.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	fmt.Print("\n== soak report\n", res)
	if !res.OK() {
		os.Exit(1)
	}
}

func config(args []string) (soak.Config, error) {
	var e struct {
		auth.Config
		Directory   string `env:"USER_DIRECTORY"`
		PGBaseURL   string `env:"PG_BASE_URL" envDefault:"postgres://postgres@127.0.0.1:5432"`
		AMQPURL     string `env:"AMQP_URL" envDefault:"amqp://guest:guest@127.0.0.1:5672/"`
		RabbitMQAPI string `env:"RABBITMQ_API" envDefault:"http://guest:guest@127.0.0.1:15672"`
	}
	if err := env.Parse(&e); err != nil {
		return soak.Config{}, err
	}
	cfg := soak.Config{Auth: e.Config, Directory: e.Directory, Progress: os.Stdout}.WithDefaults()
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.IntVar(&cfg.Flows, "flows", 2000, "claims to take from submission to payment")
	fs.IntVar(&cfg.Concurrency, "concurrency", 16, "flows in progress at once")
	fs.StringVar(&cfg.ApprovalURL, "approval-url", "http://127.0.0.1:8081", "base URL of the approval service")
	fs.StringVar(&cfg.ReimbursementURL, "reimbursement-url", "http://127.0.0.1:8083", "base URL of the reimbursement service")
	fs.IntVar(&cfg.Sample, "sample", cfg.Sample, "measure approve → read models on every n-th flow")
	fs.DurationVar(&cfg.FlowTimeout, "flow-timeout", cfg.FlowTimeout, "a flow not paid by then fails")
	fs.DurationVar(&cfg.QuietTimeout, "quiet-timeout", cfg.QuietTimeout, "how long to wait for the queues to drain")
	dbTemplate := strings.TrimSuffix(e.PGBaseURL, "/") + "/{service}?sslmode=disable"
	fs.StringVar(&dbTemplate, "db", dbTemplate, "database URL of each service, {service} standing for its name (default from PG_BASE_URL)")
	fs.StringVar(&e.AMQPURL, "amqp", e.AMQPURL, "AMQP URL of the vhost (env AMQP_URL)")
	fs.StringVar(&e.RabbitMQAPI, "rabbitmq-api", e.RabbitMQAPI, "RabbitMQ management API (env RABBITMQ_API)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	vhost := "/"
	if u, err := url.Parse(e.AMQPURL); err == nil && strings.Trim(u.Path, "/") != "" {
		vhost, _ = url.PathUnescape(strings.TrimPrefix(u.Path, "/"))
	}
	db := func(service string) string { return strings.ReplaceAll(dbTemplate, "{service}", service) }
	cfg.Sources = invariants.Sources{
		Approval: db("approval"), Accounting: db("accounting"), Reimbursement: db("reimbursement"),
		Notification: db("notification"), Audit: db("audit"),
		Broker:  invariants.Broker{URL: e.RabbitMQAPI, VHost: vhost},
		AMQPURL: e.AMQPURL,
	}
	return cfg, nil
}
