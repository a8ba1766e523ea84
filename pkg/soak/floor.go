package soak

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/topology"
)

// The broker floor (make bench-broker) answers one question with a
// measurement: what does a flow's traffic cost RabbitMQ when the services
// cost nothing? It sends the six events of a flow through the real topology
// (a vhost of its own, every queue and binding the services use) with no
// service behind them: a client publishes each event persistent and
// confirmed, as the relays do, and consumes every queue with manual acks,
// as the services do, doing nothing else. What RabbitMQ spends per flow
// then is the least any design that moves a flow through this broker with
// these deliveries can spend; with pgbench's CPU per transaction from the
// same run, it bounds the ratio to the ceiling that make bench measures
// (docs/performance.md, "What the broker costs on its own").
//
// It runs three times: one message at a time (each publish waits for its
// confirm, each delivery is acked alone: what watermill does for the
// services), with the confirms awaited many at a time (what a relay that
// publishes in batches would do), and with the acks sent many at a time
// too (the least the broker's protocol allows).

// FlowEvents are the events one flow publishes, in order: the submission,
// the approval, the payout scheduled, the two ledger entries (the approval's
// and the payment's), the payment.
var FlowEvents = []string{
	events.ExpenseSubmittedV2Type, events.ExpenseApprovedV1Type, events.ReimbursementScheduledV1Type,
	events.LedgerEntryPostedV1Type, events.LedgerEntryPostedV1Type, events.ReimbursementPaidV1Type,
}

// FloorConfig is what a broker-floor run needs.
type FloorConfig struct {
	AMQPURL    string        // the broker, as a user that may use a new vhost (its path is ignored)
	API        string        // its management API, to make and remove that vhost
	VHost      string        // the vhost made for the run and removed after it (FloorVHost when empty)
	AdminDSN   string        // PostgreSQL, for pgbench (empty: no pgbench)
	PgbenchFor time.Duration // how long pgbench runs
	Flows      int           // flows per mode
	Publishers int           // publishing connections (the three relays: 3)
	Batch      int           // batched mode: messages published before their confirms are awaited, and deliveries acked at once
	Progress   io.Writer
}

// FloorRun is one mode's measurement.
type FloorRun struct {
	Mode       string
	Flows      int
	Elapsed    time.Duration
	Published  int64
	Delivered  int64
	BrokerCPU  time.Duration // RabbitMQ's CPU (beam.smp) during the run
	ClientCPU  time.Duration // this process's: publishing and consuming, nothing else
	MachineCPU time.Duration // every process's, from /proc/stat
}

// Floor is a broker-floor measurement: every mode and, in the same run,
// pgbench.
type Floor struct {
	PgbenchTPS float64
	// PgbenchCPU is the machine's CPU per pgbench transaction (PostgreSQL
	// and pgbench's client, from /proc/stat over the run).
	PgbenchCPU time.Duration
	Deliveries int // per flow, from the topology
	Runs       []FloorRun
}

// DeliveriesPerFlow counts the deliveries of a flow's events in topo: each
// event reaches every queue on the events exchange with a binding that
// matches it. Queues bound by their consumer (webhooks) count as unbound,
// as with no endpoint registered.
func DeliveriesPerFlow(topo amqpx.Topology) int {
	n := 0
	for _, t := range FlowEvents {
		n += len(queuesFor(topo, t))
	}
	return n
}

func queuesFor(topo amqpx.Topology, eventType string) []string {
	var queues []string
	for _, subs := range topo {
		for _, s := range subs {
			if s.BoundTo() != amqpx.EventsExchange || s.BoundByConsumer {
				continue
			}
			for _, p := range s.Patterns {
				if events.Matches(p, eventType) {
					queues = append(queues, s.Queue)
					break
				}
			}
		}
	}
	return queues
}

// FloorVHost is the vhost a broker-floor run makes for itself and removes,
// unless told another.
const FloorVHost = "expenseflow-broker-floor"

// BrokerFloor measures the broker floor: pgbench first (it would compete
// with the messages), then each mode in turn.
func BrokerFloor(ctx context.Context, cfg FloorConfig) (*Floor, error) {
	log := func(s string) { fmt.Fprintln(cfg.Progress, s) }
	f := &Floor{Deliveries: DeliveriesPerFlow(topology.All)}
	if cfg.AdminDSN != "" {
		var err error
		if f.PgbenchTPS, f.PgbenchCPU, err = Pgbench(ctx, cfg.AdminDSN, cfg.PgbenchFor, log); err != nil {
			return nil, err
		}
		log(fmt.Sprintf("pgbench: %.0f tps, %.3f ms of CPU per transaction", f.PgbenchTPS, ms(f.PgbenchCPU)))
	}
	api, err := amqpx.NewManagement(cfg.API)
	if err != nil {
		return nil, err
	}
	vhost := cmp.Or(cfg.VHost, FloorVHost)
	vhostURL, err := withVHost(cfg.AMQPURL, vhost)
	if err != nil {
		return nil, err
	}
	user := amqpx.UserOf(cfg.AMQPURL)
	for _, mode := range []struct {
		name            string
		publish, acking int
	}{
		{"one at a time (as the services: each confirm awaited, each delivery acked alone)", 1, 1},
		{fmt.Sprintf("confirms batched (%d awaited together), each delivery acked alone", cfg.Batch), cfg.Batch, 1},
		{fmt.Sprintf("both batched (%d confirms awaited and %d deliveries acked together)", cfg.Batch, cfg.Batch), cfg.Batch, cfg.Batch},
	} {
		if err := freshVHost(ctx, api, vhost, user); err != nil {
			return nil, err
		}
		if err := amqpx.DeclareTopology(vhostURL, amqpx.QueueClassic, topology.All); err != nil {
			return nil, err
		}
		log("broker floor: " + mode.name)
		run, err := floorRun(ctx, vhostURL, cfg, mode.publish, mode.acking, f.Deliveries)
		if err != nil {
			return nil, err
		}
		run.Mode = mode.name
		f.Runs = append(f.Runs, run)
		log(fmt.Sprintf("  %d flows in %s: %.0f flows/s, RabbitMQ %.2f ms and the client %.2f ms of CPU per flow",
			run.Flows, run.Elapsed.Round(time.Millisecond), float64(run.Flows)/run.Elapsed.Seconds(),
			ms(run.BrokerCPU)/float64(run.Flows), ms(run.ClientCPU)/float64(run.Flows)))
	}
	return f, api.Do(context.WithoutCancel(ctx), http.MethodDelete, "/api/vhosts/"+url.PathEscape(vhost), nil, nil)
}

// floorRun publishes cfg.Flows flows' events, awaiting confirms publish at
// a time, and waits until every delivery has been acked, acking at a time.
func floorRun(ctx context.Context, amqpURL string, cfg FloorConfig, publish, acking, perFlow int) (FloorRun, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	want := int64(cfg.Flows * perFlow)
	var delivered atomic.Int64
	all := make(chan struct{})
	var once sync.Once
	consumers, err := consumeAll(ctx, amqpURL, acking, func(n int) {
		if delivered.Add(int64(n)) >= want {
			once.Do(func() { close(all) })
		}
	})
	if err != nil {
		return FloorRun{}, err
	}
	defer consumers.Close()

	cpuBefore, err := processCPU()
	if err != nil {
		return FloorRun{}, err
	}
	selfBefore := ownCPU()
	machineBefore, err := machineCPU()
	if err != nil {
		return FloorRun{}, err
	}
	began := time.Now()
	var published atomic.Int64
	errs := make(chan error, cfg.Publishers)
	var wg sync.WaitGroup
	for p := range cfg.Publishers {
		flows := cfg.Flows / cfg.Publishers
		if p < cfg.Flows%cfg.Publishers {
			flows++
		}
		wg.Go(func() {
			n, err := publishFlows(ctx, amqpURL, flows, publish)
			published.Add(n)
			if err != nil {
				errs <- err
				cancel()
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return FloorRun{}, err
	default:
	}
	select {
	case <-all:
	case <-time.After(2 * time.Minute):
		return FloorRun{}, fmt.Errorf("broker floor: %d of %d deliveries after 2 minutes", delivered.Load(), want)
	case <-ctx.Done():
		return FloorRun{}, ctx.Err()
	}
	elapsed := time.Since(began)
	cpuAfter, err := processCPU()
	if err != nil {
		return FloorRun{}, err
	}
	machineAfter, err := machineCPU()
	if err != nil {
		return FloorRun{}, err
	}
	return FloorRun{
		Flows: cfg.Flows, Elapsed: elapsed, Published: published.Load(), Delivered: delivered.Load(),
		BrokerCPU:  cpuAfter["rabbitmq"] - cpuBefore["rabbitmq"],
		ClientCPU:  ownCPU() - selfBefore,
		MachineCPU: machineAfter - machineBefore,
	}, nil
}

// publishFlows publishes flows flows' events on a connection of its own,
// each message persistent, with the properties the relays set, and waits
// for the broker's confirm of every batch messages (1: of each).
func publishFlows(ctx context.Context, amqpURL string, flows, batch int) (int64, error) {
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return 0, err
	}
	if err := ch.Confirm(false); err != nil {
		return 0, err
	}
	user := amqpx.UserOf(amqpURL)
	var published int64
	var pending []*amqp.DeferredConfirmation
	await := func() error {
		for _, c := range pending {
			ok, err := c.WaitContext(ctx)
			if err != nil {
				return err
			}
			if !ok {
				return errors.New("broker floor: a publish was nacked")
			}
		}
		pending = pending[:0]
		return nil
	}
	for range flows {
		correlation := uuid.NewString()
		for _, t := range FlowEvents {
			id := uuid.NewString()
			c, err := ch.PublishWithDeferredConfirmWithContext(ctx, amqpx.EventsExchange, t, false, false, amqp.Publishing{
				DeliveryMode: amqp.Persistent, ContentType: events.CloudEventsJSON, MessageId: id, UserId: user,
				Headers: amqp.Table{"correlation_id": correlation, "traceparent": "00-" + strings.Repeat("0", 31) + "1-" + strings.Repeat("0", 15) + "1-01"},
				Body:    floorBody(id, t, correlation),
			})
			if err != nil {
				return published, err
			}
			published++
			if pending = append(pending, c); len(pending) >= batch {
				if err := await(); err != nil {
					return published, err
				}
			}
		}
	}
	return published, await()
}

// floorBody is an event body of the real events' size (~900 bytes): the
// broker does not read it, but it stores and copies every byte.
func floorBody(id, eventType, correlation string) []byte {
	return fmt.Appendf(nil, `{"specversion":"1.0","id":%q,"type":%q,"source":"/expenseflow/broker-floor","subject":%q,`+
		`"time":%q,"datacontenttype":"application/json","dataschema":"https://expenseflow.example/schemas/%s.json",`+
		`"correlationid":%q,"sequence":1,"data":{"pad":%q}}`,
		id, eventType, correlation, time.Now().UTC().Format(time.RFC3339Nano), eventType, correlation, strings.Repeat("x", 420))
}

// consumers are the connections consuming every queue of the topology.
type consumers struct{ conns []*amqp.Connection }

func (c *consumers) Close() {
	for _, conn := range c.conns {
		_ = conn.Close()
	}
}

// consumeAll consumes every queue of the topology, a connection per service
// as the services do, with their prefetch, and acks what arrives: each
// delivery alone (batch 1), or up to batch at once with the multiple flag
// (and whatever has arrived when the queue goes quiet for a millisecond).
// counted is told how many deliveries each ack covered.
func consumeAll(ctx context.Context, amqpURL string, batch int, counted func(int)) (*consumers, error) {
	c := &consumers{}
	prefetch := max(amqpx.DefaultConfig(amqpURL, "").Prefetch, batch)
	for _, subs := range topology.All {
		conn, err := amqp.Dial(amqpURL)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.conns = append(c.conns, conn)
		for _, s := range subs {
			ch, err := conn.Channel()
			if err != nil {
				c.Close()
				return nil, err
			}
			if err := ch.Qos(prefetch, 0, false); err != nil {
				c.Close()
				return nil, err
			}
			deliveries, err := ch.ConsumeWithContext(ctx, s.Queue, "", false, false, false, false, nil)
			if err != nil {
				c.Close()
				return nil, err
			}
			go ackAll(deliveries, batch, counted)
		}
	}
	return c, nil
}

// ackAll acks deliveries until the channel closes.
func ackAll(deliveries <-chan amqp.Delivery, batch int, counted func(int)) {
	var last *amqp.Delivery
	unacked := 0
	ack := func() {
		if last != nil && last.Ack(unacked > 1) == nil {
			counted(unacked)
		}
		last, unacked = nil, 0
	}
	quiet := time.NewTimer(time.Hour)
	for {
		select {
		case d, ok := <-deliveries:
			if !ok {
				return
			}
			last, unacked = &d, unacked+1
			if unacked >= batch {
				ack()
			} else {
				quiet.Reset(time.Millisecond)
			}
		case <-quiet.C:
			ack()
		}
	}
}

// freshVHost (re)creates vhost with all rights for user.
func freshVHost(ctx context.Context, api *amqpx.Management, vhost, user string) error {
	path := "/api/vhosts/" + url.PathEscape(vhost)
	if err := api.Do(ctx, http.MethodDelete, path, nil, nil); err != nil && !amqpx.IsNotFound(err) {
		return err
	}
	if err := api.Do(ctx, http.MethodPut, path, map[string]any{}, nil); err != nil {
		return err
	}
	return api.Do(ctx, http.MethodPut, "/api/permissions/"+url.PathEscape(vhost)+"/"+url.PathEscape(user),
		map[string]string{"configure": ".*", "write": ".*", "read": ".*"}, nil)
}

// withVHost is amqpURL with its vhost replaced.
func withVHost(amqpURL, vhost string) (string, error) {
	u, err := amqp.ParseURI(amqpURL)
	if err != nil {
		return "", err
	}
	u.Vhost = vhost
	return u.String(), nil
}

// machineCPU is the CPU time every process of the machine has used since
// boot: the busy fields of /proc/stat's "cpu" line.
func machineCPU() (time.Duration, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return 0, err
	}
	return parseMachineCPU(line)
}

// parseMachineCPU reads "cpu user nice system idle iowait irq softirq
// steal …" and returns user + nice + system + irq + softirq (idle, iowait
// and steal are time the machine's processes did not run).
func parseMachineCPU(line string) (time.Duration, error) {
	fields := strings.Fields(line)
	if len(fields) < 8 || fields[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7} {
		n, err := strconv.ParseInt(fields[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// ownCPU is the CPU time (user + system) this process has used.
func ownCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Report is the floor's Markdown report.
func (f *Floor) Report(cores int) string {
	var w strings.Builder
	fmt.Fprintf(&w, "# expenseflow broker floor, %s\n\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&w, "What RabbitMQ spends per flow when the services cost nothing: the %d events of a flow "+
		"through the real topology (%d deliveries), each published persistent and confirmed, every queue consumed "+
		"with manual acks, by one client that does nothing else. %d CPU cores.\n\n", len(FlowEvents), f.Deliveries, cores)
	fmt.Fprintf(&w, "| mode | flows/s | RabbitMQ CPU per flow | the client's | the whole machine's |\n|---|---|---|---|---|\n")
	for _, r := range f.Runs {
		per := func(d time.Duration) float64 { return ms(d) / float64(r.Flows) }
		fmt.Fprintf(&w, "| %s | %.0f | %.2f ms | %.2f ms | %.2f ms |\n", r.Mode, float64(r.Flows)/r.Elapsed.Seconds(),
			per(r.BrokerCPU), per(r.ClientCPU), per(r.MachineCPU))
	}
	if f.PgbenchCPU == 0 || len(f.Runs) == 0 {
		return w.String()
	}
	db := time.Duration(FlowCommits) * f.PgbenchCPU
	busy := f.PgbenchTPS * f.PgbenchCPU.Seconds() / float64(cores)
	fmt.Fprintf(&w, "\npgbench -N at 8 clients, in the same run: %.0f tps, %.3f ms of the machine's CPU per transaction "+
		"(the machine %.0f%% busy), so %d transactions, a flow's database work at pgbench's price, cost %.1f ms.\n\n",
		f.PgbenchTPS, ms(f.PgbenchCPU), 100*busy, FlowCommits, ms(db))
	fmt.Fprintf(&w, "The highest ratio to the ceiling (make bench) a flow could reach on this machine if its database work "+
		"cost what pgbench's does and its services nothing beyond the broker client:\n\n")
	fmt.Fprintf(&w, "| mode | 25 transactions + RabbitMQ + client | highest ratio |\n|---|---|---|\n")
	for _, r := range f.Runs {
		flow := db + (r.BrokerCPU+r.ClientCPU)/time.Duration(r.Flows)
		fmt.Fprintf(&w, "| %s | %.1f ms | %.2f |\n", r.Mode, ms(flow), FloorRatio(db, flow, busy))
	}
	return w.String()
}

// FloorRatio bounds the ratio to the ceiling: flows/s ≤ cores ÷ flow CPU,
// the ceiling = tps ÷ 25 = busy·cores ÷ (25·pgbench CPU per transaction),
// so the ratio ≤ db ÷ (busy · flow), db being 25 × pgbench's CPU per
// transaction and busy the share of the machine pgbench kept busy.
func FloorRatio(db, flow time.Duration, busy float64) float64 {
	if flow <= 0 || busy <= 0 {
		return 0
	}
	return float64(db) / (busy * float64(flow))
}
