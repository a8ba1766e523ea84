// Command brokersetup declares expenseflow's RabbitMQ topology for one vhost:
// the events, commands, dead-letter and unrouted exchanges, every service's
// queues with their bindings, and the dead-letter and unrouted queues. Run
// it once per vhost before the services, like a database migration
// (make run, docker compose and the tests do); running it again changes
// nothing. The services never declare anything themselves: they wait until
// what they use exists (docs/adr/0012-topology-declared-up-front.md).
//
// Configured by AMQP_URL (a user allowed to configure the vhost; default
// amqp://guest:guest@localhost:5672/) and AMQP_QUEUE_TYPE (classic, the
// default, or quorum for a replicated cluster). It waits up to
// BROKER_WAIT (default 2m) for RabbitMQ to accept connections.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/topology"
)

type config struct {
	AMQPURL   string        `env:"AMQP_URL" envDefault:"amqp://guest:guest@localhost:5672/"`
	QueueType string        `env:"AMQP_QUEUE_TYPE" envDefault:"classic"`
	Wait      time.Duration `env:"BROKER_WAIT" envDefault:"2m"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "brokersetup:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	var cfg config
	if err := env.Parse(&cfg); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, cancel := context.WithTimeout(ctx, cfg.Wait)
	defer cancel()
	err := amqpx.UntilUp(ctx, log, func() error { return amqpx.DeclareTopology(cfg.AMQPURL, cfg.QueueType, topology.All) })
	if err != nil {
		return err
	}
	queues := 0
	for _, subs := range topology.All {
		queues += len(subs)
	}
	log.Info("topology declared", "services", len(topology.All), "queues", queues, "queue_type", cfg.QueueType)
	return nil
}
