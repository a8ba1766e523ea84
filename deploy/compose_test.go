package deploy_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

var services = []string{"approval", "accounting", "reimbursement", "notification", "audit"}

// TestComposeFileRunsTheRealBinaries loads docker-compose.yml with the loader
// Compose itself uses (unknown keys, bad depends_on and the like fail here),
// then starts every service binary — built like the Dockerfile builds it —
// with exactly the environment the file gives it, only the compose hostnames
// pointed at this machine's servers, and requires it to become ready and its
// container health check command to pass.
func TestComposeFileRunsTheRealBinaries(t *testing.T) {
	opts, err := cli.NewProjectOptions([]string{"../docker-compose.yml"},
		cli.WithName("expenseflow"), cli.WithWorkingDirectory(".."), cli.WithEnv([]string{}))
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	initSQL, err := os.ReadFile("postgres/init-databases.sql")
	if err != nil {
		t.Fatal(err)
	}

	bin := t.TempDir()
	args := []string{"build", "-trimpath", "-o", bin + "/"}
	for _, s := range services {
		args = append(args, "../services/"+s)
	}
	build := exec.Command("go", args...)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}

	amqpURL, _ := testinfra.VHost(t, "compose")
	sink := testinfra.StartMailSink(t)
	for _, name := range services {
		t.Run(name, func(t *testing.T) {
			svc, ok := project.Services[name]
			if !ok {
				t.Fatalf("no service %s in docker-compose.yml", name)
			}
			requireHealthcheckAndDeps(t, svc)
			env := map[string]string{}
			for k, v := range svc.Environment {
				if v != nil {
					env[k] = *v
				}
			}
			// The file's values, pointed at this machine.
			dbURL, err := url.Parse(env["DATABASE_URL"])
			if err != nil || dbURL.Hostname() != "postgres" {
				t.Fatalf("DATABASE_URL %q does not point at the postgres service", env["DATABASE_URL"])
			}
			db := strings.TrimPrefix(dbURL.Path, "/")
			if !strings.Contains(string(initSQL), "CREATE DATABASE "+db+";") {
				t.Fatalf("database %q is not created by deploy/postgres/init-databases.sql", db)
			}
			env["DATABASE_URL"] = testinfra.Database(t, db)
			if !strings.Contains(env["AMQP_URL"], "@rabbitmq:5672") {
				t.Fatalf("AMQP_URL %q does not point at the rabbitmq service", env["AMQP_URL"])
			}
			env["AMQP_URL"] = amqpURL
			if addr, ok := env["SMTP_ADDR"]; ok {
				if addr != "mailpit:1025" {
					t.Fatalf("SMTP_ADDR %q does not point at mailpit", addr)
				}
				env["SMTP_ADDR"] = sink.Addr()
			}
			published := svc.Ports[0].Target
			if env["HTTP_ADDR"] != ":"+itoa(published) {
				t.Fatalf("HTTP_ADDR %q does not match the published port %d", env["HTTP_ADDR"], published)
			}
			env["HTTP_ADDR"] = freeAddr(t)

			run := func(args ...string) *exec.Cmd {
				cmd := exec.Command(filepath.Join(bin, name), args...)
				cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
				for k, v := range env {
					cmd.Env = append(cmd.Env, k+"="+v)
				}
				return cmd
			}
			service := run()
			logs := &strings.Builder{}
			service.Stdout, service.Stderr = logs, logs
			if err := service.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				_ = service.Process.Signal(os.Interrupt)
				_ = service.Wait()
				if t.Failed() {
					t.Log(logs.String())
				}
			}()
			testinfra.Eventually(t, 60*time.Second, name+" becomes ready with the compose environment", func() bool {
				resp, err := http.Get("http://" + env["HTTP_ADDR"] + "/readyz")
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusOK
			})
			if out, err := run("healthcheck").CombinedOutput(); err != nil {
				t.Fatalf("the container health check fails: %v\n%s", err, out)
			}
		})
	}
}

func requireHealthcheckAndDeps(t *testing.T, svc types.ServiceConfig) {
	t.Helper()
	if svc.HealthCheck == nil || !slices.Equal(svc.HealthCheck.Test, types.HealthCheckTest{"CMD", "/service", "healthcheck"}) {
		t.Errorf("health check must run the binary's own healthcheck command, got %v", svc.HealthCheck)
	}
	for _, dep := range []string{"postgres", "rabbitmq"} {
		if d, ok := svc.DependsOn[dep]; !ok || d.Condition != types.ServiceConditionHealthy {
			t.Errorf("must depend on %s being healthy", dep)
		}
	}
	if svc.Build == nil || svc.Build.Dockerfile != "deploy/Dockerfile" || svc.Build.Args["SERVICE"] == nil || *svc.Build.Args["SERVICE"] != svc.Name {
		t.Errorf("must be built from deploy/Dockerfile with SERVICE=%s", svc.Name)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func itoa(n uint32) string { return strconv.Itoa(int(n)) }
