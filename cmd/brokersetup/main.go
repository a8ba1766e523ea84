// Command brokersetup prepares expenseflow's RabbitMQ for one vhost: it
// declares the topology (the events, commands, dead-letter and unrouted
// exchanges, every service's queues with their bindings, the dead-letter
// and unrouted queues) and creates the broker users, one per service and
// the operator, with exactly the permissions the bus gives them
// (docs/security.md, "The bus"). Run it once per vhost before the
// services, like a database migration (make run, docker compose, k8s and
// the tests do); running it again changes nothing. The services never
// declare anything themselves: they wait until what they use exists
// (docs/adr/0012-topology-declared-up-front.md).
//
//	brokersetup               declare the topology, create the users
//	brokersetup definitions   print the users as a RabbitMQ definitions file
//	brokersetup k8s           print them as Messaging Topology Operator resources
//
// Configured by the environment:
//
//	AMQP_URL         an administrator of the vhost (default amqp://guest:guest@localhost:5672/)
//	AMQP_QUEUE_TYPE  classic (default) or quorum, for a replicated cluster
//	BROKER_WAIT      how long to wait for RabbitMQ to accept connections (default 2m)
//	BROKER_USERS     api (default): create the users through the management API;
//	                 skip: something else creates them (compose definitions, k8s)
//	RABBITMQ_API     the management API (default http://<AMQP_URL's user and host>:15672)
//	AMQP_PASSWORD_<USER>  each user's password, e.g. AMQP_PASSWORD_APPROVAL,
//	                 AMQP_PASSWORD_EXPENSEFLOW_OPERATOR; with DEV_MODE=true a
//	                 missing one is the public development password
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/brokerfiles"
	"github.com/expenseflow/expenseflow/pkg/topology"
)

type config struct {
	AMQPURL   string        `env:"AMQP_URL" envDefault:"amqp://guest:guest@localhost:5672/"`
	QueueType string        `env:"AMQP_QUEUE_TYPE" envDefault:"classic"`
	Wait      time.Duration `env:"BROKER_WAIT" envDefault:"2m"`
	Users     string        `env:"BROKER_USERS" envDefault:"api"`
	API       string        `env:"RABBITMQ_API"`
	DevMode   bool          `env:"DEV_MODE"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "brokersetup:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	switch strings.Join(args, " ") {
	case "":
		return setUp(ctx)
	case "definitions":
		// For docker compose: the broker loads it at boot, so the users
		// exist before anything connects. guest stays the administrator.
		return write(brokerfiles.Definitions("/", "guest", "guest"))
	case "k8s":
		return write(brokerfiles.K8s("expenseflow-rabbitmq"))
	}
	return fmt.Errorf("unknown arguments %q: want none, `definitions` or `k8s`", args)
}

func write(b []byte, err error) error {
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(b, '\n'))
	return err
}

func setUp(ctx context.Context) error {
	var cfg config
	if err := env.Parse(&cfg); err != nil {
		return err
	}
	if cfg.Users != "api" && cfg.Users != "skip" {
		return fmt.Errorf("BROKER_USERS=%q: want api or skip", cfg.Users)
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
	if cfg.Users == "skip" {
		return nil
	}
	return createUsers(ctx, log, cfg)
}

// createUsers creates every broker user and its permissions in the vhost
// of AMQP_URL through the management API.
func createUsers(ctx context.Context, log *slog.Logger, cfg config) error {
	passwords, err := passwords(cfg.DevMode)
	if err != nil {
		return err
	}
	uri, err := amqp.ParseURI(cfg.AMQPURL)
	if err != nil {
		return err
	}
	api := cfg.API
	if api == "" {
		api = (&url.URL{Scheme: "http", User: url.UserPassword(uri.Username, uri.Password), Host: fmt.Sprintf("%s:15672", uri.Host)}).String()
	}
	mgmt, err := amqpx.NewManagement(api)
	if err != nil {
		return err
	}
	users := topology.Users()
	if err := amqpx.UntilUp(ctx, log, func() error {
		return mgmt.ApplyUsers(ctx, uri.Vhost, users, func(user string) string { return passwords[user] })
	}); err != nil {
		return fmt.Errorf("create the broker users (is the management plugin enabled?): %w", err)
	}
	log.Info("broker users and permissions set", "users", len(users), "vhost", uri.Vhost)
	return nil
}

// passwords reads AMQP_PASSWORD_<USER> for every user; in development a
// missing one is the public development password.
func passwords(dev bool) (map[string]string, error) {
	out := map[string]string{}
	var missing []string
	for _, u := range topology.Users() {
		name := "AMQP_PASSWORD_" + strings.ToUpper(strings.ReplaceAll(u.Name, "-", "_"))
		switch p := os.Getenv(name); {
		case p != "":
			out[u.Name] = p
		case dev:
			out[u.Name] = topology.DevPassword(u.Name)
		default:
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, errors.New("no password for broker users: set " + strings.Join(missing, ", ") + " (or DEV_MODE=true for the public development passwords)")
	}
	return out, nil
}
