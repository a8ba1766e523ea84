package deploy_test

import (
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
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/apiclient"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/directory"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

var services = []string{"approval", "accounting", "reimbursement", "notification", "audit", "webhooks"}

// seeded are the services the seeder calls: the flow's five (it registers
// no webhook endpoint).
var seeded = services[:5]

// observability are the services of the compose profile of that name.
var observability = []string{"prometheus", "grafana", "otel-collector", "jaeger"}

// noHealthcheck are the long-running services without a health check, and why.
var noHealthcheck = map[string]string{
	"otel-collector": "its image is one static binary on scratch: nothing inside can probe it",
}

// buildFlags are the go build flags of the Dockerfile and the Makefile
// (TestDockerfileBuildsLikeMake), so the binaries tested here are the ones
// the containers run.
var buildFlags = []string{"-trimpath"}

// loadProject loads docker-compose.yml with the loader Compose itself uses
// (unknown keys, bad depends_on and the like fail here), with env as the
// only environment for interpolation and the given profiles on: profiled
// services are silently left out otherwise.
func loadProject(t *testing.T, env []string, profiles ...string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"../docker-compose.yml"},
		cli.WithName("expenseflow"), cli.WithWorkingDirectory(".."), cli.WithEnv(env), cli.WithProfiles(profiles))
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load with profiles %v: %v", profiles, err)
	}
	return project
}

// TestComposeFile checks what can be checked without running anything: the
// observability profile adds its services and only with the profile on;
// every service has an image with a pinned tag or a build, a health check
// (or a reason not to), and every file it mounts exists; tracing is off
// unless asked for.
func TestComposeFile(t *testing.T) {
	plain := loadProject(t, nil)
	project := loadProject(t, nil, "observability")
	for _, name := range observability {
		if _, ok := plain.Services[name]; ok {
			t.Errorf("%s runs without the observability profile", name)
		}
		if _, ok := project.Services[name]; !ok {
			t.Errorf("%s is not in the observability profile", name)
		}
	}
	for _, name := range append(slices.Clone(services), "console", "seed", "broker-setup") {
		if _, ok := plain.Services[name]; !ok {
			t.Errorf("%s does not run without a profile", name)
		}
	}

	// The broker loads the users rendered from pkg/topology at boot: the
	// conf file names the definitions file where compose mounts it.
	mounts := map[string]string{}
	for _, v := range project.Services["rabbitmq"].Volumes {
		mounts[v.Target] = v.Source
	}
	conf, err := os.ReadFile("rabbitmq/expenseflow.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(mounts["/etc/rabbitmq/conf.d/20-expenseflow.conf"], "deploy/rabbitmq/expenseflow.conf") ||
		!strings.HasSuffix(mounts["/etc/rabbitmq/expenseflow-definitions.json"], "deploy/rabbitmq/definitions.json") ||
		!strings.Contains(string(conf), "load_definitions = /etc/rabbitmq/expenseflow-definitions.json") {
		t.Errorf("rabbitmq does not load deploy/rabbitmq/definitions.json at boot: mounts %v", mounts)
	}

	for name, svc := range project.Services {
		switch {
		case svc.Build != nil:
			if svc.Build.Dockerfile != "deploy/Dockerfile" {
				t.Errorf("%s: built from %s, not deploy/Dockerfile", name, svc.Build.Dockerfile)
			}
		case svc.Image == "":
			t.Errorf("%s: neither image nor build", name)
		default:
			if tag := svc.Image[strings.LastIndex(svc.Image, "/")+1:]; !strings.Contains(tag, ":") || strings.HasSuffix(tag, ":latest") {
				t.Errorf("%s: image %q has no pinned tag", name, svc.Image)
			}
		}
		switch {
		case jobs[name] != "":
			if svc.HealthCheck == nil || !svc.HealthCheck.Disable || svc.Restart != "no" {
				t.Errorf("%s is a one-shot job: restart \"no\" and the image's health check disabled", name)
			}
		case noHealthcheck[name] != "":
		case svc.HealthCheck == nil || len(svc.HealthCheck.Test) < 2 || svc.HealthCheck.Test[0] != "CMD":
			t.Errorf("%s: no health check (exec form)", name)
		}
		for _, v := range svc.Volumes {
			if _, err := os.Stat(v.Source); v.Type == types.VolumeTypeBind && err != nil {
				t.Errorf("%s mounts %s, which does not exist: %v", name, v.Source, err)
			}
		}
	}
	for name, ports := range map[string][]uint32{"grafana": {3000}, "prometheus": {9090}, "jaeger": {16686}, "otel-collector": {4317, 4318}} {
		for _, port := range ports {
			if !publishes(project.Services[name], port) {
				t.Errorf("%s does not publish port %d", name, port)
			}
		}
	}
	for _, name := range services {
		if v := plain.Services[name].Environment["OTEL_TRACES_EXPORTER"]; v == nil || *v != "none" {
			t.Errorf("%s: tracing must be off unless asked for (OTEL_TRACES_EXPORTER=none by default), got %q", name, deref(v))
		}
	}
}

// TestDockerfileBuildsLikeMake: the Dockerfile, every go build of the
// Makefile and these tests use the same flags.
func TestDockerfileBuildsLikeMake(t *testing.T) {
	goBuild := regexp.MustCompile(`(CGO_ENABLED=\d) go build((?: -[^o]\S*)*) -o `)
	want := "CGO_ENABLED=0 " + strings.Join(buildFlags, " ")
	for _, file := range []string{"Dockerfile", "../Makefile"} {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		builds := goBuild.FindAllStringSubmatch(string(raw), -1)
		if len(builds) == 0 {
			t.Errorf("%s: no go build found", file)
		}
		for _, b := range builds {
			if got := b[1] + b[2]; got != want {
				t.Errorf("%s builds with %q, want %q", file, got, want)
			}
		}
	}
}

// TestComposeStackRunsTheRealBinaries starts every service binary, built as
// the Dockerfile builds it, with exactly the environment docker-compose.yml
// gives it with the observability profile on and OTEL_TRACES_EXPORTER=otlp
// (as docs/observability.md says to start it), only the compose hostnames
// pointed at this machine: the local PostgreSQL and RabbitMQ, a mail sink,
// and an OTLP receiver standing in for the collector. Each must become ready
// and pass its container health check. Then the seeder runs, twice, with its
// compose environment; the dashboard's queries are checked against the
// metrics the services expose; and one trace must span the services.
func TestComposeStackRunsTheRealBinaries(t *testing.T) {
	project := loadProject(t, []string{"OTEL_TRACES_EXPORTER=otlp"}, "observability")
	initSQL, err := os.ReadFile("postgres/init-databases.sql")
	if err != nil {
		t.Fatal(err)
	}
	bin := build(t, append(slices.Clone(services), "console", "seed", "broker-setup"))

	amqpURL, _ := testinfra.VHost(t, "compose")
	setup := environment(project.Services["broker-setup"])
	if !strings.Contains(setup["AMQP_URL"], "@rabbitmq:5672") {
		t.Fatalf("broker-setup: AMQP_URL %q does not point at the rabbitmq service", setup["AMQP_URL"])
	}
	setup["AMQP_URL"] = amqpURL
	runJob(t, filepath.Join(bin, "broker-setup"), setup)
	sink := testinfra.StartMailSink(t)
	spans, collectorURL := startOTLPReceiver(t)
	collectorHTTP := "http://otel-collector:" + strconv.Itoa(collectorPorts(t, project)["http"])
	addrs := map[string]string{}           // compose service → where its binary listens here
	envs := map[string]map[string]string{} // compose service → the environment its binary runs with
	for _, name := range services {
		addrs[name] = testinfra.FreeAddr(t)
	}

	for _, name := range services {
		svc, ok := project.Services[name]
		if !ok {
			t.Fatalf("no service %s in docker-compose.yml", name)
		}
		requireHealthcheckAndDeps(t, svc, "postgres")
		env := environment(svc)
		// The file's values, pointed at this machine.
		dbURL, err := url.Parse(env["DATABASE_URL"])
		if err != nil || dbURL.Hostname() != "postgres" {
			t.Fatalf("%s: DATABASE_URL %q does not point at the postgres service", name, env["DATABASE_URL"])
		}
		db := strings.TrimPrefix(dbURL.Path, "/")
		if !strings.Contains(string(initSQL), "CREATE DATABASE "+db+";") {
			t.Fatalf("%s: database %q is not created by deploy/postgres/init-databases.sql", name, db)
		}
		env["DATABASE_URL"] = testinfra.Database(t, db)
		if !strings.Contains(env["AMQP_URL"], "@rabbitmq:5672") {
			t.Fatalf("%s: AMQP_URL %q does not point at the rabbitmq service", name, env["AMQP_URL"])
		}
		// Its own broker user, with the password the broker's definitions
		// give it (checked in cmd/brokersetup), in this test's vhost.
		composeURL, err := url.Parse(env["AMQP_URL"])
		if err != nil || composeURL.User.Username() != name {
			t.Fatalf("%s: AMQP_URL %q does not connect as the broker user %q", name, env["AMQP_URL"], name)
		}
		local, _ := url.Parse(amqpURL)
		local.User = composeURL.User
		env["AMQP_URL"] = local.String()
		if addr, ok := env["SMTP_ADDR"]; ok {
			if addr != "mailpit:1025" {
				t.Fatalf("%s: SMTP_ADDR %q does not point at mailpit", name, addr)
			}
			env["SMTP_ADDR"] = sink.Addr()
		}
		if env["OTEL_TRACES_EXPORTER"] != "otlp" || env["OTEL_EXPORTER_OTLP_ENDPOINT"] != collectorHTTP {
			t.Fatalf("%s: traces must go over OTLP/HTTP to %s when asked for, got exporter %q, endpoint %q",
				name, collectorHTTP, env["OTEL_TRACES_EXPORTER"], env["OTEL_EXPORTER_OTLP_ENDPOINT"])
		}
		env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collectorURL
		published := svc.Ports[0].Target
		if env["HTTP_ADDR"] != ":"+itoa(published) {
			t.Fatalf("%s: HTTP_ADDR %q does not match the published port %d", name, env["HTTP_ADDR"], published)
		}
		// A service another calls (approval's budget check at accounting):
		// its compose address, pointed here.
		for key, value := range env {
			if u, err := url.Parse(value); err == nil && strings.HasSuffix(key, "_URL") && u.Scheme == "http" {
				if other, ok := addrs[u.Hostname()]; ok && u.Port() == itoa(project.Services[u.Hostname()].Ports[0].Target) {
					env[key] = "http://" + other
				}
			}
		}
		env["HTTP_ADDR"] = addrs[name]
		envs[name] = env
		startService(t, filepath.Join(bin, name), env)
	}
	for _, name := range services {
		testinfra.Eventually(t, 60*time.Second, name+" becomes ready with the compose environment", func() bool {
			return get("http://"+addrs[name]+"/readyz") == http.StatusOK
		})
		if out, err := command(filepath.Join(bin, name), envs[name], "healthcheck").CombinedOutput(); err != nil {
			t.Fatalf("%s: the container health check fails: %v\n%s", name, err, out)
		}
	}

	t.Run("seed", func(t *testing.T) {
		env := environment(project.Services["seed"])
		for _, name := range seeded {
			key := strings.ToUpper(name) + "_URL"
			port := itoa(project.Services[name].Ports[0].Target)
			if env[key] != "http://"+name+":"+port {
				t.Fatalf("seed: %s = %q, want the %s service's address http://%s:%s", key, env[key], name, name, port)
			}
			env[key] = "http://" + addrs[name]
		}
		first := runJob(t, filepath.Join(bin, "seed"), env)
		want := "map[paid or approved:3 rejected:1 submitted:2 withdrawn:1]"
		if got := claimsByStatus(t, addrs["approval"], env); got != want {
			t.Fatalf("claims by status after seeding: %s, want %s\n%s", got, want, first)
		}
		// A second run finds every claim and does nothing.
		second := runJob(t, filepath.Join(bin, "seed"), env)
		if n := strings.Count(second, "already has"); n != 7 || strings.Contains(second, "payout batch") {
			t.Fatalf("a second run did something (%d of 7 claims found)\n%s", n, second)
		}
		if got := claimsByStatus(t, addrs["approval"], env); got != want {
			t.Fatalf("claims by status after a second run: %s, want %s", got, want)
		}
	})

	t.Run("dashboard queries use exposed metrics", func(t *testing.T) {
		// A poison message, so that failures and dead letters are exposed too.
		testinfra.Publish(t, amqpURL, "expense.submitted.v1", uuid.NewString(), []byte("not an event"))
		exposed := map[string]map[string]bool{}
		testinfra.Eventually(t, 30*time.Second, "a dead letter is counted", func() bool {
			for _, name := range services {
				scrapeInto(t, "http://"+addrs[name]+"/metrics", exposed)
			}
			return exposed["expenseflow_dead_letters_total"] != nil
		})
		checkDashboard(t, exposed)
	})

	// After the poison above: there are dead letters to show.
	t.Run("console", func(t *testing.T) { runConsole(t, project, bin, amqpURL, addrs) })

	t.Run("one trace across the services", func(t *testing.T) {
		// The seeder approved claims: an approval's trace continues in every
		// consumer of expense.approved and of the events they emit in turn,
		// so in every service but webhooks, which receives only what an
		// endpoint subscribes to (none here).
		var inTrace map[string]bool
		consumers := slices.DeleteFunc(slices.Clone(services), func(s string) bool { return s == "webhooks" })
		testinfra.Eventually(t, 30*time.Second, "spans of every consuming service in the trace of an approval", func() bool {
			inTrace = spans.servicesInTraceOf("approval", "POST /v1/expenses/:id/approve")
			return !slices.ContainsFunc(consumers, func(s string) bool { return !inTrace[s] })
		})
		t.Logf("services in the trace of an approval: %v", slices.Sorted(maps.Keys(inTrace)))
	})
}

// TestUnreachableCollectorBreaksNothing: with traces asked for and no
// collector (the profile off), a service starts, serves and stops in time.
func TestUnreachableCollectorBreaksNothing(t *testing.T) {
	svc := loadProject(t, []string{"OTEL_TRACES_EXPORTER=otlp"}).Services["audit"]
	bin := build(t, []string{"audit"})
	amqpURL, _ := testinfra.VHost(t, "compose-nocollector")
	testinfra.Topology(t, amqpURL)
	env := environment(svc)
	env["DATABASE_URL"], env["AMQP_URL"], env["HTTP_ADDR"] = testinfra.Database(t, "audit"), amqpURL, testinfra.FreeAddr(t)
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://" + testinfra.FreeAddr(t) // nothing listens there
	// Export at once, and give up on an export soon, rather than after the
	// SDK's 5 s delay and 30 s timeout.
	env["OTEL_BSP_SCHEDULE_DELAY"], env["OTEL_BSP_EXPORT_TIMEOUT"] = "100", "500"
	cmd, logs := startService(t, filepath.Join(bin, "audit"), env)
	base := "http://" + env["HTTP_ADDR"]
	testinfra.Eventually(t, 60*time.Second, "audit becomes ready", func() bool { return get(base+"/readyz") == http.StatusOK })
	for range 5 {
		if code := get(base + "/v1/audit/verify"); code != http.StatusUnauthorized {
			t.Fatalf("a traced request: %d, want 401", code)
		}
	}
	testinfra.Eventually(t, 30*time.Second, "the exporter tries and fails", func() bool {
		return strings.Contains(logs.String(), "traces export")
	})
	if code := get(base + "/readyz"); code != http.StatusOK {
		t.Fatalf("after failed exports: /readyz %d", code)
	}
	start := time.Now()
	_ = cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("stopping took %s", d)
	}
}

func requireHealthcheckAndDeps(t *testing.T, svc types.ServiceConfig, healthy ...string) {
	t.Helper()
	if svc.HealthCheck == nil || !slices.Equal(svc.HealthCheck.Test, types.HealthCheckTest{"CMD", "/service", "healthcheck"}) {
		t.Errorf("%s: health check must run the binary's own healthcheck command, got %v", svc.Name, svc.HealthCheck)
	}
	for _, dep := range healthy {
		if d, ok := svc.DependsOn[dep]; !ok || d.Condition != types.ServiceConditionHealthy {
			t.Errorf("%s: must depend on %s being healthy", svc.Name, dep)
		}
	}
	if d, ok := svc.DependsOn["broker-setup"]; !ok || d.Condition != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("%s: must depend on broker-setup having completed", svc.Name)
	}
	if svc.Build == nil || svc.Build.Args["SERVICE"] == nil || *svc.Build.Args["SERVICE"] != svc.Name {
		t.Errorf("%s: must be built with SERVICE=%s", svc.Name, svc.Name)
	}
}

// runConsole starts the console with its compose environment, pointed at
// this machine, and checks what each setting is for: the services' URLs
// (the claims page lists the seeded claims), its broker user and the
// management API (the system page lists the vhost's queues), the
// operator's broker user (it lists dead letters), the health check.
func runConsole(t *testing.T, project *types.Project, bin, amqpURL string, addrs map[string]string) {
	svc := project.Services["console"]
	requireHealthcheckAndDeps(t, svc, services...) // the services it shows, not postgres: it keeps no data
	env := environment(svc)
	for _, name := range services {
		key := strings.ToUpper(name) + "_URL"
		if want := "http://" + name + ":" + itoa(project.Services[name].Ports[0].Target); env[key] != want {
			t.Fatalf("console: %s = %q, want %s", key, env[key], want)
		}
		env[key] = "http://" + addrs[name]
	}
	local, _ := url.Parse(amqpURL)
	for _, key := range []string{"AMQP_URL", "OPERATOR_AMQP_URL"} {
		u, err := url.Parse(env[key])
		if err != nil || u.Host != "rabbitmq:5672" {
			t.Fatalf("console: %s %q does not point at the rabbitmq service", key, env[key])
		}
		in := *local
		in.User = u.User
		env[key] = in.String()
	}
	api, err := url.Parse(env["RABBITMQ_API"])
	if err != nil || api.Host != "rabbitmq:15672" {
		t.Fatalf("console: RABBITMQ_API %q does not point at the rabbitmq service's management API", env["RABBITMQ_API"])
	}
	localAPI, _ := url.Parse(testinfra.Get(t).APIURL)
	api.Host = localAPI.Host
	env["RABBITMQ_API"] = api.String()
	if env["HTTP_ADDR"] != ":"+itoa(svc.Ports[0].Target) {
		t.Fatalf("console: HTTP_ADDR %q does not match the published port", env["HTTP_ADDR"])
	}
	env["HTTP_ADDR"] = testinfra.FreeAddr(t)
	startService(t, filepath.Join(bin, "console"), env)
	base := "http://" + env["HTTP_ADDR"]
	testinfra.Eventually(t, 30*time.Second, "the console becomes ready with the compose environment", func() bool {
		return get(base+"/readyz") == http.StatusOK
	})
	if out, err := command(filepath.Join(bin, "console"), env, "healthcheck").CombinedOutput(); err != nil {
		t.Fatalf("console: the container health check fails: %v\n%s", err, out)
	}
	cfg := auth.Config{Secret: env["JWT_SECRET"], DevMode: env["DEV_MODE"] == "true", Issuer: "expenseflow", Audience: "expenseflow"}
	page := func(user, path string) string {
		dir, _ := directory.Load("")
		u, _ := dir.Lookup(user)
		token, err := auth.Mint(cfg, u, time.Now(), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("console %s as %s: %d\n%s", path, user, resp.StatusCode, body)
		}
		return string(body)
	}
	if claims := page("dave", "/claims"); strings.Count(claims, `href="/claims/`) != 7 {
		t.Errorf("the console lists %d claims to the auditor, want the 7 seeded\n%s", strings.Count(claims, `href="/claims/`), claims)
	}
	if hooks := page("carol", "/webhooks"); !strings.Contains(hooks, "Register an endpoint") || strings.Contains(hooks, `class="error"`) {
		t.Errorf("the webhooks page does not reach the webhooks service\n%s", hooks)
	}
	system := page("carol", "/system")
	for _, want := range []string{"approval.expense-events", "expenseflow.events", `class="reason"`, `class="replay"`} {
		if !strings.Contains(system, want) {
			t.Errorf("the system page does not show %q: the management API or the operator's broker user is not reached\n%s", want, system)
		}
	}
}

// jobs are the one-shot compose services and the package each is built from.
var jobs = map[string]string{"seed": "../cmd/seed", "broker-setup": "../cmd/brokersetup"}

// build compiles the named services and jobs like the Dockerfile does, into
// a temporary directory it returns; each binary is named after its compose
// service.
func build(t *testing.T, names []string) string {
	t.Helper()
	bin := t.TempDir()
	for _, name := range names {
		pkg, ok := jobs[name]
		if !ok {
			pkg = "../services/" + name
		}
		args := append([]string{"build"}, buildFlags...)
		cmd := exec.Command("go", append(args, "-o", filepath.Join(bin, name), pkg)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, out)
		}
	}
	return bin
}

// environment is a service's resolved compose environment.
func environment(svc types.ServiceConfig) map[string]string {
	env := map[string]string{}
	for k, v := range svc.Environment {
		if v != nil {
			env[k] = *v
		}
	}
	return env
}

// command runs binary with exactly env (and PATH).
func command(binary string, env map[string]string, args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// startService starts a service binary, and when the test ends stops it
// (unless the test did) and shows its log if the test failed.
func startService(t *testing.T, binary string, env map[string]string) (*exec.Cmd, *testinfra.Logs) {
	t.Helper()
	cmd := command(binary, env)
	logs := &testinfra.Logs{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(binary)
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(os.Interrupt)
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", name, logs.String())
		}
	})
	return cmd, logs
}

// runJob runs a one-shot job (the seeder, the broker setup) to the end and
// returns what it printed.
func runJob(t *testing.T, binary string, env map[string]string) string {
	t.Helper()
	name := filepath.Base(binary)
	out, err := command(binary, env).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
	t.Logf("%s:\n%s", name, out)
	return string(out)
}

// claimsByStatus counts the claims the approval service lists to the
// auditor, by status, with a token signed as the compose environment env
// (the seeder's) has the services verify it. Approved and paid count as one:
// the payout timer may pay an approved claim at any moment.
func claimsByStatus(t *testing.T, approvalAddr string, env map[string]string) string {
	t.Helper()
	signing := auth.Config{Secret: env["JWT_SECRET"], DevMode: env["DEV_MODE"] == "true", Issuer: "expenseflow", Audience: "expenseflow"}
	api, err := apiclient.New(http.DefaultClient, signing, "", []string{"dave"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Items []struct {
			Status string `json:"status"`
		} `json:"items"`
	}
	if err := api.Do(t.Context(), http.MethodGet, "http://"+approvalAddr+"/v1/expenses?limit=200", "dave", "", nil, &page); err != nil {
		t.Fatalf("list expenses: %v", err)
	}
	n := map[string]int{}
	for _, e := range page.Items {
		if e.Status == "approved" || e.Status == "paid" {
			e.Status = "paid or approved"
		}
		n[e.Status]++
	}
	return fmt.Sprint(n)
}

func publishes(svc types.ServiceConfig, port uint32) bool {
	return slices.ContainsFunc(svc.Ports, func(p types.ServicePortConfig) bool { return p.Target == port && p.Published != "" })
}

func get(target string) int {
	resp, err := http.Get(target)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func deref(s *string) string {
	if s == nil {
		return "(unset)"
	}
	return *s
}

func itoa(n uint32) string { return strconv.Itoa(int(n)) }
