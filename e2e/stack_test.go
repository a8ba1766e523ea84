package e2e

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/expenseflow/expenseflow/pkg/faults"
	"github.com/expenseflow/expenseflow/pkg/invariants"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

var services = []string{"approval", "accounting", "reimbursement", "notification", "audit", "webhooks"}

// binDir holds the service binaries and the tools tests run (deadletters,
// devtoken), built once for the whole package.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "expenseflow-e2e-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	args := []string{"build", "-trimpath", "-o", dir + "/", "../cmd/brokersetup", "../cmd/deadletters", "../cmd/devtoken", "../services/console"}
	for _, s := range services {
		args = append(args, "../services/"+s)
	}
	build := exec.Command("go", args...)
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // as the Dockerfile builds them
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building services: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Stack is the six services running against one vhost.
type Stack struct {
	t       *testing.T
	AMQPURL string
	Broker  *testinfra.API
	procs   map[string]*process
	dbsMu   sync.Mutex
	dbs     map[string]*sql.DB // one small pool per service database, opened on first use
}

type process struct {
	name string // e.g. "accounting", or "accounting#2" for a second instance
	bin  string // the binary: the service's name
	db   string // DATABASE_URL
	env  []string
	url  string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

// startStack starts all six services and waits until each is ready.
// extraEnv adds or overrides environment variables per service, e.g.
// {"reimbursement": {"GATEWAY_PERMANENT_FAILURE_RATE=1"}}.
func startStack(t *testing.T, extraEnv ...map[string][]string) *Stack {
	t.Helper()
	return startStackWith(t, func(string) []map[string][]string { return extraEnv })
}

// startStackWith is startStack for extra environment that depends on the
// stack's vhost, e.g. an AMQP_URL through a proxy in front of it.
func startStackWith(t *testing.T, envFor func(amqpURL string) []map[string][]string) *Stack {
	t.Helper()
	return newStack(t, envFor, services...)
}

// newStack prepares all six services, runs the broker setup as a
// deployment does, and starts only the services named in running; Restart
// starts the others.
func newStack(t *testing.T, envFor func(amqpURL string) []map[string][]string, running ...string) *Stack {
	t.Helper()
	amqpURL, api := testinfra.VHost(t, "e2e")
	setup := exec.Command(filepath.Join(binDir, "brokersetup"))
	setup.Env = append(os.Environ(), "AMQP_URL="+amqpURL, "RABBITMQ_API="+testinfra.Get(t).APIURL, "DEV_MODE=true")
	if out, err := setup.CombinedOutput(); err != nil {
		t.Fatalf("brokersetup: %v\n%s", err, out)
	}
	extraEnv := envFor(amqpURL)
	s := &Stack{t: t, AMQPURL: amqpURL, Broker: api, procs: map[string]*process{}}
	logDir := t.TempDir()
	addrs := map[string]string{}
	for _, name := range services {
		addrs[name] = testinfra.FreeAddr(t)
	}
	for _, name := range services {
		addr, dbURL := addrs[name], testinfra.Database(t, name)
		p := &process{
			name: name,
			bin:  name,
			db:   dbURL,
			url:  "http://" + addr,
			log:  filepath.Join(logDir, name+".log"),
			env: append(os.Environ(),
				"HTTP_ADDR="+addr,
				"DATABASE_URL="+dbURL,
				"AMQP_URL="+testinfra.UserURL(amqpURL, name), // each service is its own broker user
				"JWT_SECRET="+testinfra.JWTSecret,
				"PAYOUT_INTERVAL=0", // tests trigger payouts through the API
				"READ_WAIT_MAX=2s",
				"AUDIT_URL=http://"+addrs["audit"],
				"ACCOUNTING_URL=http://"+addrs["accounting"], // approval's budget check
				"LOG_LEVEL=info",
				"SHUTDOWN_GRACE=5s",
				// A stack is up to seven processes, beside another test
				// package running in parallel, on one PostgreSQL server with
				// the default 100 connections: each pool stays small.
				"DATABASE_MAX_CONNS=5",
				// Approval signs its service tokens (the budget reservation)
				// and accounting verifies them: the development key pair.
				"APPROVAL_SERVICE_SIGNING_KEY="+testinfra.ServiceSigningKey("approval"),
				"APPROVAL_SERVICE_PUBLIC_KEY="+testinfra.ServicePublicKey("approval"),
				// The webhook receivers of the tests are on this machine,
				// and their retries come quickly.
				"WEBHOOK_ALLOW_PRIVATE=true", "WEBHOOK_RETRY_BASE=50ms", "WEBHOOK_RETRY_MAX=500ms",
				"WEBHOOK_TIMEOUT=3s", "WEBHOOK_POLL_INTERVAL=100ms",
			),
		}
		for _, extra := range extraEnv {
			p.env = append(p.env, extra[name]...) // later entries win
		}
		s.procs[name] = p
	}
	for _, name := range running {
		s.start(s.procs[name])
	}
	for _, name := range running {
		s.waitReady(s.procs[name])
	}
	t.Cleanup(func() {
		for _, p := range s.procs {
			p.stop(syscall.SIGTERM)
		}
		if t.Failed() {
			for _, p := range s.procs {
				dumpTail(t, p.log, 40)
			}
		}
	})
	return s
}

func (s *Stack) start(p *process) {
	s.t.Helper()
	if err := p.start(); err != nil {
		s.t.Fatalf("start %s: %v", p.name, err)
	}
}

func (p *process) start() error {
	logFile, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	p.cmd = exec.Command(filepath.Join(binDir, p.bin))
	p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = p.env, logFile, logFile
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		return err
	}
	p.done = make(chan struct{})
	go func() {
		_ = p.cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return nil
}

func (s *Stack) waitReady(p *process) {
	s.t.Helper()
	if err := p.waitReady(60 * time.Second); err != nil {
		dumpTail(s.t, p.log, 40)
		s.t.Fatal(err)
	}
}

// waitReady polls /readyz until it answers 200, the process exits, or the
// timeout passes.
func (p *process) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited during start-up", p.name)
		default:
		}
		if resp, err := http.Get(p.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s", p.name, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// AddInstance starts one more instance of a service — same database, same
// queues, its own port — and returns its name ("accounting#2"): competing
// consumers, as when a service is scaled out.
func (s *Stack) AddInstance(name string) string {
	s.t.Helper()
	base := s.procs[name]
	n := 2
	for s.procs[fmt.Sprintf("%s#%d", name, n)] != nil {
		n++
	}
	instance := fmt.Sprintf("%s#%d", name, n)
	addr := testinfra.FreeAddr(s.t)
	p := &process{
		name: instance, bin: base.bin, db: base.db, url: "http://" + addr,
		log: strings.TrimSuffix(base.log, ".log") + fmt.Sprintf("-%d.log", n),
		env: append(append([]string{}, base.env...), "HTTP_ADDR="+addr),
	}
	s.procs[instance] = p
	s.start(p)
	s.waitReady(p)
	return instance
}

// Client returns a REST client for one service.
func (s *Stack) Client(name string) testinfra.Client {
	return testinfra.Client{T: s.t, Base: s.procs[name].url}
}

// RunCommand runs "<service binary> <command>" with the service's
// configuration and returns its combined output.
func (s *Stack) RunCommand(name, command string) string {
	s.t.Helper()
	p := s.procs[name]
	cmd := exec.Command(filepath.Join(binDir, p.bin), command)
	cmd.Env = p.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("%s %s: %v\n%s", name, command, err, out)
	}
	return string(out)
}

// DB is the database of a service, for checks no API offers. Tests poll
// it, so it is opened once per service and kept to two connections: a pool
// per call would hold a connection each until the test ends, and the
// server has 100 for every package running at once.
func (s *Stack) DB(name string) *sql.DB {
	s.t.Helper()
	s.dbsMu.Lock()
	defer s.dbsMu.Unlock()
	if db := s.dbs[name]; db != nil {
		return db
	}
	db, err := sql.Open("pgx", s.procs[name].db)
	if err != nil {
		s.t.Fatal(err)
	}
	db.SetMaxOpenConns(2)
	s.t.Cleanup(func() { _ = db.Close() })
	if s.dbs == nil {
		s.dbs = map[string]*sql.DB{}
	}
	s.dbs[name] = db
	return db
}

// Kill stops a service with SIGKILL: no graceful shutdown, no chance to ack
// or commit anything in flight.
func (s *Stack) Kill(name string) { s.procs[name].stop(syscall.SIGKILL) }

// Restart starts a stopped service again with the same configuration.
func (s *Stack) Restart(name string) {
	p := s.procs[name]
	s.start(p)
	s.waitReady(p)
}

// Crash is a fault (pkg/faults) for use while a test runs flows: SIGKILL the
// service, leave it down for up to a second, start it again and wait until
// it is ready — what a container runtime does after a crash. It reports
// errors instead of failing the test: it runs outside the test's goroutine.
func (s *Stack) Crash(name string) faults.Fault {
	p := s.procs[name]
	return faults.Fault{Name: "SIGKILL " + name, Inject: func(context.Context) error {
		p.stop(syscall.SIGKILL)
		time.Sleep(rand.N(time.Second))
		if err := p.start(); err != nil {
			return err
		}
		return p.waitReady(60 * time.Second)
	}}
}

// WaitQuiet waits until every queue of the vhost is empty (nothing ready,
// nothing unacknowledged) except dead-letter queues, and stays so briefly:
// all effects of the events published so far have been committed.
func (s *Stack) WaitQuiet() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.t.Context(), 60*time.Second)
	defer cancel()
	if err := s.Sources().WaitQuiet(ctx); err != nil {
		s.t.Fatalf("the stack did not settle: %v", err)
	}
}

// Sources says where the stack keeps its state, for pkg/invariants and
// pkg/soak.
func (s *Stack) Sources() invariants.Sources {
	return invariants.Sources{
		Approval: s.procs["approval"].db, Accounting: s.procs["accounting"].db,
		Reimbursement: s.procs["reimbursement"].db, Notification: s.procs["notification"].db,
		Audit: s.procs["audit"].db, Webhooks: s.procs["webhooks"].db,
		Broker:  invariants.Broker{URL: testinfra.Get(s.t).APIURL, VHost: s.Broker.VHost},
		AMQPURL: s.AMQPURL,
	}
}

// CheckInvariants runs pkg/invariants against the stack and fails the test
// on any violation. Call it once the stack is quiet (WaitQuiet).
// expectedDeadLetters lists the message ids each service's dead-letter queue
// should hold; nil means none.
func (s *Stack) CheckInvariants(t *testing.T, expectedDeadLetters map[string][]string) invariants.Report {
	t.Helper()
	src := s.Sources()
	src.ExpectedDeadLetters = expectedDeadLetters
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	r := invariants.Check(ctx, src)
	if !r.OK() {
		t.Errorf("invariants violated:\n%s", r)
	} else {
		t.Logf("invariants:\n%s", r)
	}
	return r
}

func (p *process) stop(sig syscall.Signal) {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func dumpTail(t *testing.T, path string, n int) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	t.Logf("--- last lines of %s ---\n%s", filepath.Base(path), strings.Join(lines, "\n"))
}
