package postgres_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/postgres"
)

// A database error quotes the data it refused; what goes to a log keeps
// only the code, so no client input or personal data lands there.
func TestRedactKeepsTheCodeNotTheData(t *testing.T) {
	pgErr := &pgconn.PgError{Severity: "ERROR", Code: "22P02", Message: `invalid input syntax for type uuid: "alice@example.com"`}
	err := fmt.Errorf("load expense: %w", pgErr)
	got := postgres.Redact(err).Error()
	if strings.Contains(got, "alice@example.com") || !strings.Contains(got, "22P02") || !strings.HasPrefix(got, "load expense: ") {
		t.Fatalf("redacted: %q", got)
	}
	plain := errors.New("connection refused")
	if postgres.Redact(plain) != plain {
		t.Fatal("an error that is not PostgreSQL's must pass unchanged")
	}
	if postgres.Classify(err) == nil || apperr.KindOf(postgres.Classify(err)) != apperr.Invalid {
		t.Fatal("a data exception is the client's to fix")
	}
}
