// Command brokerfloor measures what a flow's messages cost RabbitMQ when the
// services cost nothing, and what that leaves of the ratio make bench
// measures: pgbench -N first (the database's price per transaction on this
// machine, now), then the six events of each flow through the real topology
// in a vhost of its own, published persistent and confirmed, consumed with
// manual acks, one message at a time and then batched. It prints a Markdown
// report and writes it to -out when given.
//
//	make bench-broker                      # 5000 flows per mode, report in results/
//	bin/brokerfloor -flows 2000 -batch 100
//
// The broker is AMQP_URL (a user that may use a new vhost: it is created,
// given that user, and deleted afterwards) with its management API at
// RABBITMQ_API; PostgreSQL at PG_BASE_URL. docs/performance.md explains
// what the figures mean.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/expenseflow/expenseflow/pkg/soak"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "brokerfloor:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string) error {
	var e struct {
		PGBaseURL   string `env:"PG_BASE_URL" envDefault:"postgres://postgres@127.0.0.1:5432"`
		AMQPURL     string `env:"AMQP_URL" envDefault:"amqp://guest:guest@127.0.0.1:5672/"`
		RabbitMQAPI string `env:"RABBITMQ_API" envDefault:"http://guest:guest@127.0.0.1:15672"`
	}
	if err := env.Parse(&e); err != nil {
		return err
	}
	cfg := soak.FloorConfig{AMQPURL: e.AMQPURL, API: e.RabbitMQAPI, Progress: os.Stdout,
		AdminDSN: strings.TrimSuffix(e.PGBaseURL, "/") + "/postgres?sslmode=disable"}
	fs := flag.NewFlagSet("brokerfloor", flag.ContinueOnError)
	fs.IntVar(&cfg.Flows, "flows", 5000, "flows sent through the broker in each mode")
	fs.IntVar(&cfg.Publishers, "publishers", 3, "publishing connections (the three relays)")
	fs.IntVar(&cfg.Batch, "batch", 50, "batched mode: confirms awaited, and deliveries acked, this many at once")
	fs.DurationVar(&cfg.PgbenchFor, "pgbench-for", 30*time.Second, "how long pgbench runs (0: no pgbench)")
	out := fs.String("out", "", "also write the report to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.Flows < 1 || cfg.Publishers < 1 || cfg.Batch < 1 {
		return fmt.Errorf("-flows, -publishers and -batch must be at least 1")
	}
	if cfg.PgbenchFor <= 0 {
		cfg.AdminDSN = ""
	}
	floor, err := soak.BrokerFloor(ctx, cfg)
	if err != nil {
		return err
	}
	report := floor.Report(runtime.NumCPU())
	fmt.Print("\n", report)
	if *out == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(*out, []byte(report), 0o644)
}
