package soak

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/invariants"
)

// A bench run (make bench) is a soak run measured against the machine it
// runs on. In the same run it measures:
//
//   - the ceiling: pgbench -N (a write transaction of three updates and an
//     insert, each committed) at 8 clients for 30 s on a scratch database
//     of the same server. A flow commits about FlowCommits write
//     transactions (docs/performance.md counts them), so pgbench's tps ÷
//     FlowCommits is what the database alone would allow;
//   - CPU seconds per flow of each process group (every service, PostgreSQL,
//     RabbitMQ), from /proc, between the start of the flows and the moment
//     everything is quiet again;
//   - transactions committed per flow, from pg_stat_database (every
//     transaction, read-only ones too: PostgreSQL counts each);
//   - with pg_stat_statements loaded, the statements that took the most
//     database time.

// FlowCommits is the number of write transactions one flow needs, counted
// in docs/performance.md: the denominator of the ceiling.
const FlowCommits = 25

// Bench is the measurement around one run.
type Bench struct {
	Dir        string        // where the report and the plot go
	PgbenchTPS float64       // pgbench -N at 8 clients
	PgbenchCPU time.Duration // the machine's CPU per pgbench transaction
	Settings   string        // the PostgreSQL settings that decide what a commit costs, and autovacuum
	CPU        map[string]time.Duration
	Commits    int64 // transactions committed in the services' databases
	Statements []Statement
	Wall       time.Duration // from the first flow to quiet
	Services   []Service     // idle memory, start-up, binary, measured before the flows
	Messages   MessageStats  // what the broker did in the vhost during the run
}

// MessageStats are RabbitMQ's counters for a vhost (management API).
type MessageStats struct {
	Publish    int64 `json:"publish"`     // messages published into it
	Confirm    int64 `json:"confirm"`     // publisher confirms sent back
	DeliverGet int64 `json:"deliver_get"` // deliveries to consumers (and gets)
	Ack        int64 `json:"ack"`
	Redeliver  int64 `json:"redeliver"`
}

func (m MessageStats) minus(o MessageStats) MessageStats {
	return MessageStats{m.Publish - o.Publish, m.Confirm - o.Confirm, m.DeliverGet - o.DeliverGet, m.Ack - o.Ack, m.Redeliver - o.Redeliver}
}

// messageStats reads the vhost's counters. The management API refreshes
// them every few seconds, so they are read after everything is quiet.
func messageStats(ctx context.Context, b invariants.Broker) (MessageStats, error) {
	api, err := amqpx.NewManagement(b.URL)
	if err != nil {
		return MessageStats{}, err
	}
	var v struct {
		Stats MessageStats `json:"message_stats"`
	}
	err = api.Do(ctx, http.MethodGet, "/api/vhosts/"+url.PathEscape(cmp.Or(b.VHost, "/")), nil, &v)
	return v.Stats, err
}

// Statement is one row of pg_stat_statements.
type Statement struct {
	Database string
	Calls    int64
	Total    time.Duration
	Query    string
}

// processGroups names the processes whose CPU time a bench reports, by the
// command name in /proc/<pid>/stat: every service (its binary is named
// after it), PostgreSQL's backends, RabbitMQ and the driver itself.
var processGroups = func() map[string]string {
	groups := map[string]string{"postgres": "postgres", "beam.smp": "rabbitmq", "soak": "soak (the load driver)"}
	for _, s := range invariants.Services {
		groups[s] = s
	}
	return groups
}()

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux this runs on.
const clockTicks = 100

// processCPU returns the CPU time (user + system) used so far by the live
// processes of each group. A process that ends between two samples takes
// its time with it: the services and the connection pools' PostgreSQL
// backends live through a run, so little is lost.
func processCPU() (map[string]time.Duration, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	out := map[string]time.Duration{}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		comm, cpu, ok := parseStat(string(raw))
		if group, known := processGroups[comm]; ok && known {
			out[group] += cpu
		}
	}
	return out, nil
}

// parseStat reads the command name and the CPU time (user + system) from
// a /proc/<pid>/stat line: "pid (comm) state ppid … utime stime …". The
// name may hold spaces and parentheses, so it ends at the last ')'.
func parseStat(s string) (comm string, cpu time.Duration, ok bool) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", 0, false
	}
	fields := strings.Fields(s[end+1:])
	if len(fields) < 13 {
		return "", 0, false
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return "", 0, false
	}
	return s[open+1 : end], time.Duration(utime+stime) * time.Second / clockTicks, true
}

// commits returns the transactions committed so far in the services'
// databases.
func commits(ctx context.Context, src invariants.Sources) (int64, error) {
	var total int64
	for _, s := range invariants.Services {
		conn, err := pgx.Connect(ctx, src.DSN(s))
		if err != nil {
			return 0, err
		}
		var n int64
		err = conn.QueryRow(ctx, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").Scan(&n)
		conn.Close(ctx)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

var (
	tpsLine = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)
	txLine  = regexp.MustCompile(`number of transactions actually processed: ([0-9]+)`)
)

// Pgbench runs pgbench -N at 8 clients for duration on a scratch database
// created (and dropped afterwards) through adminDSN, and returns its tps
// and the CPU the whole machine spent per transaction meanwhile
// (PostgreSQL's and pgbench's own, with whatever else ran: an upper bound).
func Pgbench(ctx context.Context, adminDSN string, duration time.Duration, log func(string)) (tps float64, perTx time.Duration, err error) {
	const db = "expenseflow_pgbench"
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
		return 0, 0, err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		return 0, 0, err
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") }()
	cfg, err := pgx.ParseConfig(adminDSN)
	if err != nil {
		return 0, 0, err
	}
	args := []string{"-h", cfg.Host, "-p", strconv.Itoa(int(cfg.Port)), "-U", cfg.User}
	env := append(os.Environ(), "PGPASSWORD="+cfg.Password)
	init := exec.CommandContext(ctx, "pgbench", append(args, "-i", "-q", "-s", "10", db)...)
	init.Env = env
	if out, err := init.CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("pgbench -i: %w: %s", err, out)
	}
	log(fmt.Sprintf("pgbench -N -c 8 -j 2 -T %d (the database's ceiling, on this machine, now)", int(duration.Seconds())))
	run := exec.CommandContext(ctx, "pgbench", append(args, "-N", "-c", "8", "-j", "2", "-T", strconv.Itoa(int(duration.Seconds())), db)...)
	run.Env = env
	before, err := machineCPU()
	if err != nil {
		return 0, 0, err
	}
	out, err := run.CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("pgbench -N: %w: %s", err, out)
	}
	after, err := machineCPU()
	if err != nil {
		return 0, 0, err
	}
	m, n := tpsLine.FindSubmatch(out), txLine.FindSubmatch(out)
	if m == nil || n == nil {
		return 0, 0, fmt.Errorf("pgbench printed no tps: %s", out)
	}
	if tps, err = strconv.ParseFloat(string(m[1]), 64); err != nil {
		return 0, 0, err
	}
	txs, err := strconv.ParseInt(string(n[1]), 10, 64)
	if err != nil || txs == 0 {
		return 0, 0, fmt.Errorf("pgbench processed no transaction: %s", out)
	}
	return tps, (after - before) / time.Duration(txs), nil
}

// statementsReset reports whether pg_stat_statements is loaded (it must be
// in shared_preload_libraries); if so it creates the extension in the
// database of dsn and resets the server's counters.
func statementsReset(ctx context.Context, dsn string) bool {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return false
	}
	defer conn.Close(ctx)
	var libs string
	if conn.QueryRow(ctx, "SHOW shared_preload_libraries").Scan(&libs) != nil || !strings.Contains(libs, "pg_stat_statements") {
		return false
	}
	_, err = conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
	if err == nil {
		_, err = conn.Exec(ctx, "SELECT pg_stat_statements_reset()")
	}
	return err == nil
}

// serverSettings names the settings a reader of the report needs to trust
// its figures: durability on (fsync, synchronous_commit) and autovacuum
// (without it no table is ever analyzed; docs/performance.md says what that
// did to a plan).
func serverSettings(ctx context.Context, dsn string) (string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var out []string
	for _, name := range []string{"fsync", "synchronous_commit", "autovacuum", "shared_buffers"} {
		var v string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
			return "", err
		}
		out = append(out, name+" "+v)
	}
	return strings.Join(out, ", "), nil
}

// topStatements returns the n statements of the whole server that took the
// most time since the reset.
func topStatements(ctx context.Context, dsn string, n int) ([]Statement, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT d.datname, s.calls, s.total_exec_time, s.query
		FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
		ORDER BY s.total_exec_time DESC LIMIT $1`, n)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Statement, error) {
		var s Statement
		var ms float64
		err := r.Scan(&s.Database, &s.Calls, &ms, &s.Query)
		s.Total = time.Duration(ms * float64(time.Millisecond))
		s.Query = strings.Join(strings.Fields(s.Query), " ")
		return s, err
	})
}

// benchRun is a bench under way: the ceiling measured, the counters'
// starting values taken.
type benchRun struct {
	b        Bench
	cpu      map[string]time.Duration
	commits  int64
	messages MessageStats
	began    time.Time
	pgss     bool
	pgssFrom string
	profiles sync.WaitGroup
}

// startBench measures the ceiling (pgbench, before the flows: it would
// compete with them), then takes the counters' starting values.
func startBench(ctx context.Context, cfg Config) (*benchRun, error) {
	if err := os.MkdirAll(cfg.Bench.Dir, 0o755); err != nil {
		return nil, err
	}
	br := &benchRun{b: Bench{Dir: cfg.Bench.Dir}, pgssFrom: cfg.Sources.DSN("approval")}
	var err error
	log := func(s string) { fmt.Fprintln(cfg.Progress, s) }
	if br.b.PgbenchTPS, br.b.PgbenchCPU, err = Pgbench(ctx, cfg.Bench.AdminDSN, cfg.Bench.PgbenchFor, log); err != nil {
		return nil, err
	}
	log(fmt.Sprintf("pgbench: %.0f tps, a ceiling of %.1f flows/s", br.b.PgbenchTPS, br.b.Ceiling()))
	br.pgss = statementsReset(ctx, br.pgssFrom)
	if br.b.Settings, err = serverSettings(ctx, cfg.Bench.AdminDSN); err != nil {
		return nil, err
	}
	if cfg.Bench.PidDir != "" {
		br.b.Services = services(cfg.Bench.PidDir, cfg.Bench.BinDir) // idle: the flows have not begun
	}
	if br.cpu, err = processCPU(); err != nil {
		return nil, err
	}
	if br.commits, err = commits(ctx, cfg.Sources); err != nil {
		return nil, err
	}
	if br.messages, err = messageStats(ctx, cfg.Sources.Broker); err != nil {
		return nil, err
	}
	br.began = time.Now()
	for service, addr := range cfg.Bench.Pprof {
		br.profiles.Go(func() {
			if err := profile(ctx, service, addr, cfg.Bench.Dir); err != nil {
				log(fmt.Sprintf("profile of %s: %v", service, err))
			}
		})
	}
	return br, nil
}

// profile takes a 20-second CPU profile of a service, 5 s into the flows
// (busy by then), and writes it and its top functions (go tool pprof -top)
// into dir.
func profile(ctx context.Context, service, addr, dir string) error {
	select {
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/profile?seconds=20", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", resp.Status)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, service+".pprof")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return err
	}
	top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=30", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go tool pprof: %w: %s", err, top)
	}
	return os.WriteFile(filepath.Join(dir, service+"-top.txt"), top, 0o644)
}

// finish takes the counters again, once everything is quiet, and writes
// the report and the plot.
func (br *benchRun) finish(ctx context.Context, cfg Config, res Result) (*Bench, error) {
	b := &br.b
	b.Wall = time.Since(br.began)
	br.profiles.Wait()
	cpu, err := processCPU()
	if err != nil {
		return nil, err
	}
	b.CPU = map[string]time.Duration{}
	for g, d := range cpu {
		b.CPU[g] = d - br.cpu[g]
	}
	n, err := commits(ctx, cfg.Sources)
	if err != nil {
		return nil, err
	}
	b.Commits = n - br.commits
	time.Sleep(6 * time.Second) // the management API's counters lag by up to 5 s
	m, err := messageStats(ctx, cfg.Sources.Broker)
	if err != nil {
		return nil, err
	}
	b.Messages = m.minus(br.messages)
	if br.pgss {
		if b.Statements, err = topStatements(ctx, br.pgssFrom, 15); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(b.Dir, "report.md"), []byte(b.Report(res, cfg)), 0o644); err != nil {
		return nil, err
	}
	return b, plotLatencies(filepath.Join(b.Dir, "latency.png"), res, cfg.Rate)
}

// Ceiling is the flows/s the database alone would allow: pgbench's tps ÷
// FlowCommits.
func (b *Bench) Ceiling() float64 { return b.PgbenchTPS / FlowCommits }

// Report is the bench's Markdown report of res.
func (b *Bench) Report(res Result, cfg Config) string {
	var w strings.Builder
	done := res.Flows - res.Failed
	rate := float64(done) / res.Elapsed.Seconds()
	fmt.Fprintf(&w, "# expenseflow bench, %s\n\n", time.Now().UTC().Format(time.RFC3339))
	host, _ := os.Hostname()
	fmt.Fprintf(&w, "Machine: %s, %d flows at concurrency %d", host, res.Flows, cfg.Concurrency)
	if cfg.Rate > 0 {
		fmt.Fprintf(&w, ", paced at %.1f flows/s", cfg.Rate)
	}
	fmt.Fprintf(&w, ".\n")
	if b.Settings != "" {
		fmt.Fprintf(&w, "PostgreSQL: %s.\n", b.Settings)
	}
	fmt.Fprintf(&w, "\n| figure | value |\n|---|---|\n")
	fmt.Fprintf(&w, "| flows/s | **%.1f** (%d done, %d failed, in %s) |\n", rate, done, res.Failed, res.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(&w, "| pgbench -N, 8 clients | %.0f tps |\n", b.PgbenchTPS)
	fmt.Fprintf(&w, "| ceiling = tps ÷ %d commits per flow | %.1f flows/s |\n", FlowCommits, b.Ceiling())
	if b.PgbenchCPU > 0 {
		fmt.Fprintf(&w, "| the machine's CPU per pgbench transaction (× %d: a flow's share at the ceiling) | %.3f ms (%.1f ms) |\n",
			FlowCommits, ms(b.PgbenchCPU), ms(b.PgbenchCPU)*FlowCommits)
	}
	if b.Ceiling() > 0 && cfg.Rate == 0 {
		fmt.Fprintf(&w, "| **ratio to the ceiling** | **%.2f** |\n", rate/b.Ceiling())
	} else if b.Ceiling() > 0 {
		fmt.Fprintf(&w, "| load, as a share of the ceiling | %.2f (paced: the arrival rate chosen, not the capacity) |\n", rate/b.Ceiling())
	}
	if done > 0 {
		fmt.Fprintf(&w, "| transactions committed per flow (read-only ones too) | %.1f |\n", float64(b.Commits)/float64(done))
	}
	if done > 0 && b.Messages.Publish > 0 {
		per := func(n int64) float64 { return float64(n) / float64(done) }
		fmt.Fprintf(&w, "| broker, per flow | %.1f published (%.1f confirmed), %.1f delivered, %.1f acked, %.2f redelivered |\n",
			per(b.Messages.Publish), per(b.Messages.Confirm), per(b.Messages.DeliverGet), per(b.Messages.Ack), per(b.Messages.Redeliver))
	}
	fmt.Fprintf(&w, "| submit latency | %s |\n| approve latency | %s |\n| approve → every effect (view, reimbursement, ledger, notification) | %s |\n",
		res.Submit, res.Approve, res.ReadModels)
	fmt.Fprintf(&w, "| invariants | %s |\n", map[bool]string{true: "all hold", false: "VIOLATED"}[res.Invariants.OK()])
	var deepest []string
	for _, q := range slices.SortedFunc(maps.Keys(res.MaxQueuedIn), func(a, b string) int { return res.MaxQueuedIn[b] - res.MaxQueuedIn[a] }) {
		if res.MaxQueuedIn[q] > 0 && len(deepest) < 4 {
			deepest = append(deepest, fmt.Sprintf("%s %d", q, res.MaxQueuedIn[q]))
		}
	}
	fmt.Fprintf(&w, "| deepest queues (most messages seen; the backlog builds there) | %s |\n\n", strings.Join(deepest, ", "))

	fmt.Fprintf(&w, "## CPU per flow\n\nFrom the first flow until everything was quiet (%s of wall time).\n\n| process | CPU s total | CPU ms per flow | share |\n|---|---|---|---|\n", b.Wall.Round(time.Millisecond))
	var total time.Duration
	for _, d := range b.CPU {
		total += d
	}
	for _, g := range slices.Sorted(maps.Keys(b.CPU)) {
		d := b.CPU[g]
		fmt.Fprintf(&w, "| %s | %.1f | %.1f | %.0f%% |\n", g, d.Seconds(), perFlow(d, done), 100*d.Seconds()/max(total.Seconds(), 1e-9))
	}
	fmt.Fprintf(&w, "| all | %.1f | %.1f | |\n\n", total.Seconds(), perFlow(total, done))

	if len(b.Services) > 0 {
		w.WriteString("## The services at rest\n\nPrivate memory (RssAnon) idle, before the flows; the first start on fresh databases (migrations included) until `/readyz` answers; the binary's size.\n\n| service | RssAnon idle | ready after | binary |\n|---|---|---|---|\n")
		for _, s := range b.Services {
			fmt.Fprintf(&w, "| %s | %s | %s | %s |\n", s.Name, mib(s.RssAnon), s.Ready, mib(s.Binary.File))
		}
		if bin := b.Services[0].Binary; bin.File > 0 {
			fmt.Fprintf(&w, "\nWhat %s's %s binary is made of (the others differ little):\n\n| part | size |\n|---|---|\n", b.Services[0].Name, mib(bin.File))
			for _, k := range slices.SortedFunc(maps.Keys(bin.Sections), func(x, y string) int { return int(bin.Sections[y] - bin.Sections[x]) }) {
				fmt.Fprintf(&w, "| %s | %s |\n", k, mib(bin.Sections[k]))
			}
			w.WriteString("\nIts code and data by package tree, largest first:\n\n| package tree | size |\n|---|---|\n")
			for _, p := range bin.Packages[:min(len(bin.Packages), 12)] {
				fmt.Fprintf(&w, "| %s | %s |\n", p.Name, mib(p.Bytes))
			}
			w.WriteString("\n")
		}
	}

	if len(b.Statements) > 0 {
		fmt.Fprintf(&w, "## Where the database time goes (pg_stat_statements)\n\n| database | calls | total ms | ms per flow | statement |\n|---|---|---|---|---|\n")
		for _, s := range b.Statements {
			q := s.Query
			if len(q) > 140 {
				q = q[:140] + "…"
			}
			fmt.Fprintf(&w, "| %s | %d | %.0f | %.2f | `%s` |\n", s.Database, s.Calls, float64(s.Total)/float64(time.Millisecond), perFlow(s.Total, done), strings.ReplaceAll(q, "|", `\|`))
		}
		w.WriteString("\n")
	} else {
		w.WriteString("pg_stat_statements is not loaded: `make bench PGSS=1` enables it (it restarts PostgreSQL).\n\n")
	}
	if len(cfg.Bench.Pprof) > 0 {
		w.WriteString("CPU profiles of the services under load (20 s each): `<service>.pprof`, their top functions in `<service>-top.txt`.\n\n")
	}
	w.WriteString("![latency](latency.png)\n")
	return w.String()
}

func perFlow(d time.Duration, flows int) float64 {
	if flows == 0 {
		return 0
	}
	return float64(d) / float64(time.Millisecond) / float64(flows)
}
