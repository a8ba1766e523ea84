// Command soak drives many complete claims (submit → approve → paid) through
// a running expenseflow at a chosen concurrency, printing progress every
// second; then it waits for the queues to drain, checks every invariant of
// pkg/invariants against the databases and the broker, and prints a report:
// flows/s, latency percentiles of submit, approve and approve → read models
// updated, queue depths, dead letters, outbox lag and any violation. It exits
// 1 when a flow failed or an invariant is violated, 2 when it cannot run.
//
//	make soak FLOWS=2000 CONCURRENCY=16      # fresh local stack, soak, stop
//	make soak FAULTS=kill,broker             # … with services killed and RabbitMQ stopped meanwhile
//	bin/soak -flows 500 -concurrency 8       # against a running `make run`
//	make bench                               # throughput against pgbench's ceiling, report in results/
//
// -bench <dir> measures the run against the machine in the same run: the
// database's ceiling (pgbench -N), CPU seconds and transactions per flow,
// the costliest statements (with pg_stat_statements loaded), and writes
// report.md and latency.png there. -rate paces the flows (flows/s) for
// latency at a given load.
//
// -faults injects failures while the flows run (pkg/faults): "kill" sends
// SIGKILL to a random service whose process id is in -pids/<service>.pid
// (scripts/soak.sh supervises the services and starts them again); "broker"
// stops RabbitMQ for up to -broker-down with rabbitmqctl (or the command in
// RABBITMQCTL) and starts it again.
//
// Defaults match scripts/run-local.sh: services on 127.0.0.1:8081 (approval)
// and :8083 (reimbursement), databases <PG_BASE_URL>/<service>, the broker at
// AMQP_URL and its management API at RABBITMQ_API. Tokens are minted like
// cmd/devtoken: JWT_SECRET, or the development key with DEV_MODE=true.
// See pkg/soak for what is measured and how.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/faults"
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

// faultsFrom turns the -faults list into faults: one "kill" fault per
// service, so each is as likely to be hit, and one "broker" fault.
func faultsFrom(list, pids string, broker faults.Broker, down time.Duration) ([]faults.Fault, error) {
	var out []faults.Fault
	for name := range strings.SplitSeq(list, ",") {
		switch strings.TrimSpace(name) {
		case "":
		case "kill":
			if pids == "" {
				return nil, errors.New("-faults kill needs -pids: the directory of <service>.pid files")
			}
			for _, s := range invariants.Services {
				pidFile := filepath.Join(pids, s+".pid")
				out = append(out, faults.Fault{Name: "SIGKILL " + s, Inject: func(context.Context) error {
					return faults.KillPIDFile(pidFile)
				}})
			}
		case "broker":
			out = append(out, faults.BrokerOutage(broker, down))
		default:
			return nil, fmt.Errorf("unknown fault %q (known: kill, broker)", name)
		}
	}
	return out, nil
}

func config(args []string) (soak.Config, error) {
	var e struct {
		auth.Config
		Directory   string `env:"USER_DIRECTORY"`
		PGBaseURL   string `env:"PG_BASE_URL" envDefault:"postgres://postgres@127.0.0.1:5432"`
		AMQPURL     string `env:"AMQP_URL" envDefault:"amqp://guest:guest@127.0.0.1:5672/"`
		RabbitMQAPI string `env:"RABBITMQ_API" envDefault:"http://guest:guest@127.0.0.1:15672"`
		RabbitMQCtl string `env:"RABBITMQCTL" envDefault:"rabbitmqctl"`
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
	fs.Float64Var(&cfg.Rate, "rate", 0, "paced: start this many flows per second (0: as fast as -concurrency allows)")
	fs.IntVar(&cfg.VoidEvery, "void-every", 0, "void every n-th claim after its approval, racing the payouts (0: none)")
	fs.BoolVar(&cfg.Budgets, "budgets", false, "book the claims to cost centers with budgets, so that every approve reserves against one")
	fs.StringVar(&cfg.AccountingURL, "accounting-url", "http://127.0.0.1:8082", "base URL of the accounting service (for -budgets)")
	fs.StringVar(&cfg.WebhooksURL, "webhooks-url", "", "base URL of the webhooks service: register a receiver of every event there, and check it got them")
	var benchDir string
	var pgbenchFor time.Duration
	fs.StringVar(&benchDir, "bench", "", "measure the run against the machine (pgbench ceiling, CPU, commits) and write a report into this directory")
	fs.DurationVar(&pgbenchFor, "pgbench-for", 30*time.Second, "how long pgbench runs, for -bench")
	var pprofList string
	fs.StringVar(&pprofList, "pprof", "", "for -bench: service=host:port,… of the services' PPROF_ADDR, to profile them under load")
	var faultList, pids string
	brokerDown := 5 * time.Second
	fs.StringVar(&faultList, "faults", "", "faults to inject while the flows run, comma-separated: kill, broker")
	fs.DurationVar(&cfg.FaultEvery, "fault-every", cfg.FaultEvery, "the pause before each fault is random, up to this")
	fs.StringVar(&pids, "pids", "", "directory of <service>.pid files, for -faults kill")
	fs.DurationVar(&brokerDown, "broker-down", brokerDown, "longest broker outage, for -faults broker")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if benchDir != "" {
		admin := strings.TrimSuffix(e.PGBaseURL, "/") + "/postgres?sslmode=disable"
		cfg.Bench = &soak.BenchConfig{Dir: benchDir, AdminDSN: admin, PgbenchFor: pgbenchFor, Pprof: map[string]string{}, PidDir: pids, BinDir: "bin"}
		for item := range strings.SplitSeq(pprofList, ",") {
			if service, addr, ok := strings.Cut(item, "="); ok {
				cfg.Bench.Pprof[service] = addr
			}
		}
	}
	var err error
	if cfg.Faults, err = faultsFrom(faultList, pids, faults.LocalBroker(e.RabbitMQCtl), brokerDown); err != nil {
		return cfg, err
	}
	vhost := "/"
	if u, err := url.Parse(e.AMQPURL); err == nil && strings.Trim(u.Path, "/") != "" {
		vhost, _ = url.PathUnescape(strings.TrimPrefix(u.Path, "/"))
	}
	db := func(service string) string { return strings.ReplaceAll(dbTemplate, "{service}", service) }
	cfg.Sources = invariants.Sources{
		Approval: db("approval"), Accounting: db("accounting"), Reimbursement: db("reimbursement"),
		Notification: db("notification"), Audit: db("audit"), Webhooks: db("webhooks"),
		Broker:  invariants.Broker{URL: e.RabbitMQAPI, VHost: vhost},
		AMQPURL: e.AMQPURL,
	}
	return cfg, nil
}
