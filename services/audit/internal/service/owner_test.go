package service_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/audit/internal/service"
)

// TestTheRuntimeRoleCannotRewriteTheLog runs audit as Kubernetes does: the
// database belongs to an owner role, which only migrates
// (DATABASE_MIGRATIONS=apply-and-exit); the service runs as the role audit
// (DATABASE_MIGRATIONS=check), which may append to the log and read it, and
// can neither change a row, nor empty the table, nor drop its triggers.
func TestTheRuntimeRoleCannotRewriteTheLog(t *testing.T) {
	owner := "audit_owner_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	mustExec(t,
		// The runtime role is shared by every run on this server; the
		// owner is this test's own.
		`DO $$ BEGIN CREATE ROLE audit LOGIN PASSWORD 'audit'; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`,
		"CREATE ROLE "+owner+" LOGIN PASSWORD 'owner'",
	)
	t.Cleanup(func() { _ = testinfra.AdminExec(t, "DROP ROLE IF EXISTS "+owner) })
	adminURL := testinfra.Database(t, "audit_owned") // dropped (before the role) at cleanup
	dbName := strings.TrimPrefix(mustParse(t, adminURL).Path, "/")
	mustExec(t, "ALTER DATABASE "+dbName+" OWNER TO "+owner)
	asOwner, asAudit := withUser(t, adminURL, owner, "owner"), withUser(t, adminURL, "audit", "audit")

	pc, _ := testinfra.PlatformConfig(t, "audit")
	start := func(dbURL, migrations string) (*platform.Platform, error) {
		cfg := pc
		cfg.DatabaseURL, cfg.Migrations = dbURL, migrations
		return service.New(context.Background(), service.Config{Config: cfg})
	}
	if _, err := start(asAudit, platform.MigrationsCheck); !errors.Is(err, postgres.ErrNotMigrated) {
		t.Fatalf("started on an unmigrated database: %v", err)
	}
	if _, err := start(asOwner, platform.MigrationsApplyAndExit); !errors.Is(err, platform.ErrMigratedOnly) {
		t.Fatalf("migrate as the owner: %v", err)
	}
	p, err := start(asAudit, platform.MigrationsCheck)
	if err != nil {
		t.Fatalf("start as the runtime role: %v", err)
	}
	testinfra.Run(t, p)
	env := event(t, events.ExpenseWithdrawnV1{ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "erin", WithdrawnAt: base}, "c-1", 0)
	testinfra.PublishEvent(t, pc.AMQPURL, env)
	testinfra.Eventually(t, 10*time.Second, "the runtime role appends the event", func() bool {
		var n int64
		return p.DB.Raw("SELECT count(*) FROM audit_events").Scan(&n).Error == nil && n == 1
	})

	conn, err := pgx.Connect(context.Background(), asAudit)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, attack := range []string{
		"ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
		"DROP TRIGGER audit_events_append_only ON audit_events",
		"UPDATE audit_events SET subject = 'rewritten'",
		"DELETE FROM audit_events",
		"TRUNCATE audit_events",
	} {
		if _, err := conn.Exec(context.Background(), attack); err == nil || !strings.Contains(err.Error(), "42501") {
			t.Errorf("%s as the runtime role: %v, want 42501 (insufficient privilege)", attack, err)
		}
	}
}

func mustExec(t *testing.T, statements ...string) {
	t.Helper()
	for _, sql := range statements {
		if err := testinfra.AdminExec(t, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func withUser(t *testing.T, raw, user, password string) string {
	u := mustParse(t, raw)
	u.User = url.UserPassword(user, password)
	return u.String()
}
