// Package soak drives many complete claims through running services —
// submit, approve, pay — measures how fast they go and how long the read
// models take to follow, then waits for the system to go quiet and checks
// every invariant of pkg/invariants. cmd/soak runs it against a local stack
// (make soak); an end-to-end test runs it, smaller, against the test stack.
//
// What it measures, per flow:
//   - submit and approve latency: the HTTP round trip of each command;
//   - read-model latency (on every Sample-th flow): from the approve
//     response until the approval view shows approved, the reimbursement
//     exists, the approval ledger entry exists and the employee's
//     notification exists. It polls the databases directly: cheaper and more
//     exact than polling four list endpoints;
//   - a flow is done when its reimbursement is paid. Payouts are triggered
//     through POST /v1/payouts by a background loop, as finance would.
//
// With Faults set, a background loop breaks the system while the flows run
// (pkg/faults: services killed, the broker stopped). The flows then behave
// like a careful client: a command that gets no answer or a 5xx is retried
// with the same Idempotency-Key, so a retry never has a second effect.
//
// While it runs it prints one progress line a second with the queue depths
// and the outbox lag: the age of the oldest outbox row the relay has not yet
// published.
package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/expenseflow/expenseflow/pkg/apiclient"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/faults"
	"github.com/expenseflow/expenseflow/pkg/invariants"
)

// Config is one soak run.
type Config struct {
	Flows       int // claims to take from submission to payment
	Concurrency int // flows in progress at once
	// Base URLs of the services the flows call.
	ApprovalURL, ReimbursementURL string
	// AccountingURL, with Budgets, is where the run sets its budgets.
	AccountingURL string
	// Budgets runs with the budget check biting: every claim is booked to a
	// cost center of its currency (soak-eur, …) whose budget for the month
	// the run sets first, large enough for every flow, so that each approve
	// reserves against a real budget and the invariants check it.
	Budgets bool
	// WebhooksURL, when set, is the webhooks service: the run registers an
	// endpoint for every event with a receiver of its own (see receiver),
	// and the invariants then check that every event reached it or visibly
	// failed.
	WebhooksURL string
	Auth        auth.Config // to mint the users' tokens
	Directory   string      // USER_DIRECTORY; "" for the demo users
	// Sources are the databases and broker: read-model polling, outbox lag,
	// quiescence and the final invariants check.
	Sources      invariants.Sources
	Sample       int           // measure read-model latency on every Sample-th flow (1 = all)
	PayoutEvery  time.Duration // how often the payout loop calls POST /v1/payouts
	FlowTimeout  time.Duration // a flow not paid by then fails
	QuietTimeout time.Duration // how long to wait for the queues to drain at the end
	Progress     io.Writer     // one line a second; nil for none
	// Faults are injected one after another while the flows run, in
	// shuffled rounds, a random pause of FaultEvery/2 to FaultEvery before
	// each; none when empty. With FaultRounds > 0 exactly that many rounds
	// are injected, and flows beyond Flows are started until they are over;
	// with 0 the rounds go on until the flows are done.
	Faults      []faults.Fault
	FaultEvery  time.Duration
	FaultRounds int
	// VoidEvery voids every n-th flow (0: none) after its approval, at a
	// random moment while the payout loop runs, so voids race payouts; such
	// a flow is done when the claim is voided, in whichever outcome.
	VoidEvery int
	// Rate paces the run: flows start at this many per second (an open
	// arrival rate, for latency at a given load) while fewer than
	// Concurrency are in progress; 0 starts them as fast as Concurrency
	// allows (throughput).
	Rate float64
	// Bench, when set, measures the run against the machine (bench.go)
	// and writes a report there.
	Bench *BenchConfig
}

// BenchConfig is where a bench report goes and how the ceiling is measured.
type BenchConfig struct {
	Dir        string        // created if missing
	AdminDSN   string        // a superuser's connection to the same PostgreSQL server
	PgbenchFor time.Duration // how long pgbench runs (default 30 s)
	// Pprof are the services' PPROF_ADDR, by service: a CPU profile of
	// each is taken while the flows run.
	Pprof map[string]string
	// PidDir holds <service>.pid (and .ready-ms) as scripts/soak.sh writes
	// them, BinDir the service binaries: the idle memory, start-up time and
	// binary sizes in the report come from there.
	PidDir, BinDir string
}

// WithDefaults fills in what is unset.
func (c Config) WithDefaults() Config {
	if c.Sample == 0 {
		c.Sample = 10
	}
	if c.PayoutEvery == 0 {
		c.PayoutEvery = 200 * time.Millisecond
	}
	if c.FlowTimeout == 0 {
		c.FlowTimeout = 2 * time.Minute
	}
	if c.QuietTimeout == 0 {
		c.QuietTimeout = 2 * time.Minute
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.FaultEvery == 0 {
		c.FaultEvery = 10 * time.Second
	}
	if c.Bench != nil && c.Bench.PgbenchFor == 0 {
		c.Bench.PgbenchFor = 30 * time.Second
	}
	return c
}

// Validate refuses a configuration that cannot run.
func (c Config) Validate() error {
	var errs []error
	if c.Flows < 1 || c.Concurrency < 1 {
		errs = append(errs, errors.New("flows and concurrency must be at least 1"))
	}
	if c.ApprovalURL == "" || c.ReimbursementURL == "" {
		errs = append(errs, errors.New("the approval and reimbursement URLs are required"))
	}
	if c.Sample < 1 {
		errs = append(errs, errors.New("sample must be at least 1"))
	}
	if c.Rate < 0 {
		errs = append(errs, errors.New("rate must not be negative"))
	}
	if c.Bench != nil && (c.Bench.Dir == "" || c.Bench.AdminDSN == "") {
		errs = append(errs, errors.New("a bench needs a report directory and an administrator's database URL"))
	}
	for _, s := range invariants.Services {
		if c.Sources.DSN(s) == "" {
			errs = append(errs, fmt.Errorf("no database URL for %s", s))
		}
	}
	return errors.Join(append(errs, c.Auth.Validate())...)
}

// Result is what a run measured and found.
type Result struct {
	Flows, Failed int
	Elapsed       time.Duration // from the first submit to the last payment
	Submit        Latencies
	Approve       Latencies
	ReadModels    Latencies      // approve → every read model updated, sampled flows
	MaxQueued     int            // most messages in non-dead-letter queues at once
	MaxQueuedIn   map[string]int // most messages seen in each queue: where the backlog builds
	Retries       int64          // command attempts sent again under the same Idempotency-Key
	InDoubt       int64          // commands sent again under a new key after a lost answer
	MaxOutboxLag  map[string]time.Duration
	OutboxLag     map[string]time.Duration // at the end, after quiescence
	QuietErr      error                    // the queues did not drain in time
	Errors        []string                 // the first few flow failures
	Faults        []Injected               // every fault injected, in order
	Invariants    invariants.Report
	Webhooks      *WebhookCounts // with WebhooksURL
	Bench         *Bench         // set by a bench run
}

// OK reports whether every flow completed and every invariant holds.
func (r Result) OK() bool {
	for _, f := range r.Faults {
		if f.Err != nil {
			return false // the run did not test what it was asked to
		}
	}
	if r.Webhooks != nil && r.Webhooks.Unverified > 0 {
		return false
	}
	return r.Failed == 0 && r.QuietErr == nil && r.Invariants.OK()
}

// Injected is one fault a run injected: when (since the run started), which,
// and the error if it could not be injected or repaired.
type Injected struct {
	At   time.Duration
	Name string
	Err  error
}

func (f Injected) String() string {
	s := fmt.Sprintf("%6.1fs %s", f.At.Seconds(), f.Name)
	if f.Err != nil {
		s += ": FAILED: " + f.Err.Error()
	}
	return s
}

// String is the report printed at the end of a run.
func (r Result) String() string {
	var b strings.Builder
	rate := float64(r.Flows-r.Failed) / r.Elapsed.Seconds()
	fmt.Fprintf(&b, "flows: %d done, %d failed in %s: %.1f flows/s\n", r.Flows-r.Failed, r.Failed, r.Elapsed.Round(time.Millisecond), rate)
	fmt.Fprintf(&b, "submit latency:          %s\n", r.Submit)
	fmt.Fprintf(&b, "approve latency:         %s\n", r.Approve)
	fmt.Fprintf(&b, "approve → read models:   %s\n", r.ReadModels)
	fmt.Fprintf(&b, "most messages queued:    %d (sampled once a second)\n", r.MaxQueued)
	fmt.Fprintf(&b, "commands retried:        %d under the same key, %d in doubt and re-sent under a new one\n", r.Retries, r.InDoubt)
	fmt.Fprintf(&b, "outbox lag, worst seen:  %s\n", formatLag(r.MaxOutboxLag))
	fmt.Fprintf(&b, "outbox lag, at the end:  %s\n", formatLag(r.OutboxLag))
	if len(r.Faults) > 0 {
		fmt.Fprintf(&b, "faults injected:         %d\n", len(r.Faults))
		for _, f := range r.Faults {
			fmt.Fprintf(&b, "  %s\n", f)
		}
	}
	if r.QuietErr != nil {
		fmt.Fprintf(&b, "NOT QUIET: %v\n", r.QuietErr)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "flow error: %s\n", e)
	}
	if r.Webhooks != nil {
		fmt.Fprintf(&b, "webhook receiver:        %s\n", r.Webhooks)
	}
	b.WriteString(r.Invariants.String())
	if r.Bench != nil {
		fmt.Fprintf(&b, "bench: %.1f flows/s against a ceiling of %.1f (pgbench -N %.0f tps ÷ %d): ratio %.2f; report in %s\n",
			rate, r.Bench.Ceiling(), r.Bench.PgbenchTPS, FlowCommits, rate/r.Bench.Ceiling(), r.Bench.Dir)
	}
	return b.String()
}

func formatLag(m map[string]time.Duration) string {
	var parts []string
	for _, s := range outboxServices {
		if d, ok := m[s]; ok {
			parts = append(parts, fmt.Sprintf("%s=%s", s, d.Round(time.Millisecond)))
		}
	}
	return strings.Join(parts, " ")
}

// Latencies are measured durations.
type Latencies []time.Duration

// Percentile returns the p-th percentile (nearest rank), 0 for none.
func (l Latencies) Percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func (l Latencies) String() string {
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	return fmt.Sprintf("p50 %-9s p95 %-9s p99 %-9s (n=%d)", r(l.Percentile(50)), r(l.Percentile(95)), r(l.Percentile(99)), len(l))
}

// Run drives cfg.Flows flows, waits for quiescence and checks the invariants.
// The error is for a run that could not start (bad config, unreachable
// database); failed flows and violations are in the Result.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	api, err := apiclient.New(&http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 2 * cfg.Concurrency},
	}, cfg.Auth, cfg.Directory, append(append([]string{payer}, employees...), managers...), 24*time.Hour)
	if err != nil {
		return Result{}, err
	}
	r := &runner{cfg: cfg, api: api, pools: map[string]*pgxpool.Pool{}}
	defer r.close()
	if err := r.connect(ctx); err != nil {
		return Result{}, err
	}
	var b *benchRun
	if cfg.Bench != nil {
		if b, err = startBench(ctx, cfg); err != nil {
			return Result{}, fmt.Errorf("bench: %w", err)
		}
	}
	if cfg.Budgets {
		if err := r.setBudgets(ctx); err != nil {
			return Result{}, fmt.Errorf("budgets: %w", err)
		}
	}
	var hooks *receiver
	if cfg.WebhooksURL != "" {
		if hooks, err = r.startReceiver(ctx); err != nil {
			return Result{}, fmt.Errorf("webhooks: %w", err)
		}
	}
	res := r.drive(ctx)

	quietCtx, cancel := context.WithTimeout(ctx, cfg.QuietTimeout)
	defer cancel()
	if err := cfg.Sources.WaitQuiet(quietCtx); err != nil {
		res.QuietErr = err
	}
	if hooks != nil {
		counts := hooks.stop()
		res.Webhooks = &counts
	}
	res.OutboxLag = r.outboxLag(ctx)
	res.Invariants = invariants.Check(ctx, cfg.Sources)
	if b != nil {
		if res.Bench, err = b.finish(ctx, cfg, res); err != nil {
			return res, fmt.Errorf("bench: %w", err)
		}
	}
	return res, nil
}

type runner struct {
	cfg   Config
	api   *apiclient.Client
	pools map[string]*pgxpool.Pool
	watch *watcher
	// retries counts command attempts sent again under the same key;
	// inDoubt, commands sent again under a new key (see command).
	retries, inDoubt atomic.Int64
}

var outboxServices = []string{"approval", "accounting", "reimbursement"}

func (r *runner) connect(ctx context.Context) error {
	for _, s := range []string{"approval", "accounting", "reimbursement", "notification"} {
		pool, err := pgxpool.New(ctx, r.cfg.Sources.DSN(s))
		if err == nil {
			err = pool.Ping(ctx)
		}
		if err != nil {
			return fmt.Errorf("database of %s: %w", s, err)
		}
		r.pools[s] = pool
	}
	return nil
}

func (r *runner) close() {
	for _, p := range r.pools {
		p.Close()
	}
}

// The demo users the flows act as: employees submit, their managers approve,
// finance pays.
var (
	employees = []string{"alice", "erin"}
	managers  = []string{"bob", "frank"}
	payer     = "carol"
)

// flowResult is what one flow measured.
type flowResult struct {
	submit, approve, readModels time.Duration
	err                         error
}

func (r *runner) drive(ctx context.Context) Result {
	cfg := r.cfg
	res := Result{MaxOutboxLag: map[string]time.Duration{}, MaxQueuedIn: map[string]int{}}
	var done atomic.Int64
	start := time.Now()

	bg, stopBackground := context.WithCancel(ctx)
	var background sync.WaitGroup
	r.watch = newWatcher(r.pools, pollEvery)
	background.Add(4)
	go func() { defer background.Done(); r.watch.run(bg) }()
	go func() { defer background.Done(); r.payoutLoop(bg) }()
	go func() { defer background.Done(); r.progressLoop(bg, start, &done, &res) }()
	faultsOver := make(chan struct{})
	go func() {
		defer background.Done()
		defer close(faultsOver)
		faults.Schedule(bg, cfg.Faults, cfg.FaultEvery, cfg.FaultRounds, func(name string, began time.Time, err error) {
			f := Injected{At: began.Sub(start), Name: name, Err: err}
			res.Faults = append(res.Faults, f) // read only after background.Wait
			fmt.Fprintf(cfg.Progress, "fault: %s\n", f)
		})
	}()

	jobs := make(chan int)
	var (
		workers sync.WaitGroup
		mu      sync.Mutex
		results []flowResult
	)
	for range cfg.Concurrency {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := range jobs {
				f := r.flow(ctx, i)
				mu.Lock()
				results = append(results, f)
				mu.Unlock()
				done.Add(1)
			}
		}()
	}
	// cfg.Flows flows, and with FaultRounds more until the rounds are over:
	// every fault must hit the system while it is busy.
	more := func(i int) bool {
		faulting := cfg.FaultRounds > 0 && !closed(faultsOver)
		return ctx.Err() == nil && (i < cfg.Flows || faulting)
	}
	for i := 0; more(i); i++ {
		if cfg.Rate > 0 { // the i-th flow starts i/Rate seconds in
			due := start.Add(time.Duration(float64(i) / cfg.Rate * float64(time.Second)))
			select {
			case <-time.After(time.Until(due)):
			case <-ctx.Done():
			}
		}
		jobs <- i
	}
	close(jobs)
	workers.Wait()
	res.Elapsed = time.Since(start)
	res.Retries, res.InDoubt = r.retries.Load(), r.inDoubt.Load()
	stopBackground()
	background.Wait()

	res.Flows = len(results)
	for _, f := range results {
		if f.err != nil {
			res.Failed++
			if len(res.Errors) < 10 {
				res.Errors = append(res.Errors, f.err.Error())
			}
			continue
		}
		res.Submit = append(res.Submit, f.submit)
		res.Approve = append(res.Approve, f.approve)
		if f.readModels > 0 {
			res.ReadModels = append(res.ReadModels, f.readModels)
		}
	}
	return res
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

var currencies = []string{"EUR", "USD", "GBP"}

// flow takes one claim from submission to payment.
func (r *runner) flow(ctx context.Context, i int) flowResult {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.FlowTimeout)
	defer cancel()
	var f flowResult
	employee, manager := employees[i%len(employees)], managers[i%len(managers)]

	t0 := time.Now()
	id, err := r.submit(ctx, i, employee)
	f.submit = time.Since(t0)
	if err != nil {
		f.err = fmt.Errorf("flow %d: submit: %w", i, err)
		return f
	}

	t1 := time.Now()
	err = r.approve(ctx, id, manager)
	f.approve = time.Since(t1)
	if err != nil {
		f.err = fmt.Errorf("flow %d: approve %s: %w", i, id, err)
		return f
	}
	approved := time.Now()

	if i%r.cfg.Sample == 0 {
		if err := r.waitReadModels(ctx, id); err != nil {
			f.err = fmt.Errorf("flow %d: expense %s: %w", i, id, err)
			return f
		}
		f.readModels = time.Since(approved)
	}
	if r.cfg.VoidEvery > 0 && i%r.cfg.VoidEvery == 0 {
		if err := r.void(ctx, id); err != nil {
			f.err = fmt.Errorf("flow %d: void %s: %w", i, id, err)
		}
		return f
	}
	if err := r.waitPaid(ctx, id); err != nil {
		f.err = fmt.Errorf("flow %d: expense %s: %w", i, id, err)
	}
	return f
}

// void takes the approval back as finance, at a random moment within a
// payout interval or two (before, during or after its payment), and waits
// until the claim is voided. Voiding again is harmless (the same answer),
// so an attempt whose answer is lost is simply sent again.
func (r *runner) void(ctx context.Context, id string) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(rand.N(2 * r.cfg.PayoutEvery)):
	}
	for {
		err := r.command(ctx, r.cfg.ApprovalURL+"/v1/expenses/"+id+"/void", payer, map[string]string{"reason": "soak: duplicate receipt"}, nil)
		if !errors.Is(err, errInDoubt) {
			if err != nil {
				return err
			}
			break
		}
		r.inDoubt.Add(1)
	}
	_, err := r.watch.wait(ctx, expenseVoided, id)
	return err
}

// submit files a claim and returns its id. When the answer to an attempt
// is lost for good (errInDoubt), it submits again under a new key: the
// first attempt may have created a claim nobody will decide, which is
// harmless, while giving up would fail the flow.
func (r *runner) submit(ctx context.Context, i int, employee string) (string, error) {
	currency := currencies[i%len(currencies)]
	body := map[string]any{
		"amount_minor": 100 + rand.IntN(100_000), "currency": currency, "category": "travel",
		"description": fmt.Sprintf("soak flow %d", i), "incurred_on": time.Now().UTC().Format(time.DateOnly),
	}
	if r.cfg.Budgets {
		body["cost_center"] = costCenterOf(currency)
	}
	for {
		var created struct {
			ID string `json:"id"`
		}
		err := r.command(ctx, r.cfg.ApprovalURL+"/v1/expenses", employee, body, &created)
		if !errors.Is(err, errInDoubt) {
			return created.ID, err
		}
		r.inDoubt.Add(1)
	}
}

// approve decides the claim. When an attempt's answer is lost for good, the
// write model says whether it took effect; if not, it is sent again under a
// new key.
func (r *runner) approve(ctx context.Context, id, manager string) error {
	for {
		err := r.command(ctx, r.cfg.ApprovalURL+"/v1/expenses/"+id+"/approve", manager, nil, nil)
		if !errors.Is(err, errInDoubt) {
			return err
		}
		r.inDoubt.Add(1)
		var status string
		if err := r.pools["approval"].QueryRow(ctx, `SELECT status FROM expenses WHERE id = $1::uuid`, id).Scan(&status); err != nil {
			return err
		}
		if status == "approved" {
			return nil
		}
	}
}

// pollEvery is how often the watcher polls; it bounds the read-model
// latency's resolution.
const pollEvery = 10 * time.Millisecond

// waitReadModels waits until every read model shows the approval.
func (r *runner) waitReadModels(ctx context.Context, id string) error {
	for _, c := range readModelChecks {
		if _, err := r.watch.wait(ctx, c, id); err != nil {
			return fmt.Errorf("read models not updated: %w", err)
		}
	}
	return nil
}

func (r *runner) waitPaid(ctx context.Context, id string) error {
	status, err := r.watch.wait(ctx, paymentSettled, id)
	switch {
	case err != nil:
		return err
	case status == "failed":
		return errors.New("the payment failed")
	}
	return nil
}

// payoutLoop runs a payout batch every PayoutEvery until ctx ends.
func (r *runner) payoutLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.cfg.PayoutEvery):
		}
		if err := r.api.Do(ctx, http.MethodPost, r.cfg.ReimbursementURL+"/v1/payouts", payer, "", nil, nil); err != nil && ctx.Err() == nil {
			fmt.Fprintf(r.cfg.Progress, "payout batch: %v\n", err)
		}
	}
}

// progressLoop prints a line a second and records the worst queue depth and
// outbox lag seen.
func (r *runner) progressLoop(ctx context.Context, start time.Time, done *atomic.Int64, res *Result) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		queued := "?" // the management API does not answer: the broker is down
		if qs, err := r.cfg.Sources.Broker.Queues(ctx); err == nil {
			n := 0
			for _, q := range qs {
				if !strings.HasSuffix(q.Name, ".dead-letters") {
					n += q.Messages
					res.MaxQueuedIn[q.Name] = max(res.MaxQueuedIn[q.Name], q.Messages)
				}
			}
			res.MaxQueued, queued = max(res.MaxQueued, n), strconv.Itoa(n)
		}
		lag := r.outboxLag(ctx)
		for s, d := range lag {
			res.MaxOutboxLag[s] = max(res.MaxOutboxLag[s], d)
		}
		n, elapsed := done.Load(), time.Since(start)
		fmt.Fprintf(r.cfg.Progress, "%5.0fs  %d/%d flows done  %.1f flows/s  queued %s  outbox lag %s\n",
			elapsed.Seconds(), n, r.cfg.Flows, float64(n)/elapsed.Seconds(), queued, formatLag(lag))
	}
}

// outboxLag is, per service, the age of the oldest outbox row the relay has
// not published yet (0 when none). The relay (consumer group "relay" of
// pkg/outbox) has published every row up to its position in
// watermill_offsets_outbox: rows are read in (transaction_id, offset) order,
// and the position is the pair (last_processed_transaction_id,
// offset_acked); without a position row, nothing has been published.
func (r *runner) outboxLag(ctx context.Context) map[string]time.Duration {
	lag := map[string]time.Duration{}
	for _, s := range outboxServices {
		var seconds float64
		err := r.pools[s].QueryRow(ctx, `
			SELECT coalesce(extract(epoch FROM localtimestamp - min(o.created_at)), 0)::float8
			FROM watermill_outbox o
			LEFT JOIN watermill_offsets_outbox f ON f.consumer_group = 'relay'
			WHERE f.consumer_group IS NULL
			   OR (o.transaction_id, o."offset") > (f.last_processed_transaction_id, f.offset_acked)`).Scan(&seconds)
		if err == nil {
			lag[s] = time.Duration(seconds * float64(time.Second))
		}
	}
	return lag
}

// errInDoubt is a command whose Idempotency-Key answers 409 "in progress":
// the attempt holding the key died (SIGKILL) before its response was stored,
// so whether it took effect cannot be learnt from the key (pkg/idempotency).
var errInDoubt = errors.New("in doubt: the attempt with this Idempotency-Key died before answering")

// command sends a command as a careful client does: with an Idempotency-Key,
// retried under the same key, with backoff, while there is no answer or a
// 5xx — the service may be restarting — so no retry has a second effect.
func (r *runner) command(ctx context.Context, url, user string, body, out any) error {
	key := uuid.NewString()
	backoff := 50 * time.Millisecond
	for {
		err := r.api.Do(ctx, http.MethodPost, url, user, key, body, out)
		var status *apiclient.StatusError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &status) && status.Code == http.StatusConflict:
			return errInDoubt
		case errors.As(err, &status) && status.Code < 500:
			return err // a refusal: retrying would not change it
		}
		r.retries.Add(1)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last attempt: %v)", ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// costCenterOf is the cost center a run with budgets books claims in
// currency to: a budget has one currency.
func costCenterOf(currency string) string { return "soak-" + strings.ToLower(currency) }

// setBudgets gives each currency's cost center a budget for this month with
// room for every flow (and then some: the largest claim times the flows).
func (r *runner) setBudgets(ctx context.Context) error {
	period := time.Now().UTC().Format("2006-01")
	for _, currency := range currencies {
		url := r.cfg.AccountingURL + "/v1/budgets/" + costCenterOf(currency) + "/" + period
		body := map[string]any{"currency": currency, "limit_minor": int64(r.cfg.Flows+100) * 100_100}
		if err := r.api.Do(ctx, http.MethodPut, url, payer, "", body, nil); err != nil {
			return err
		}
	}
	return nil
}
