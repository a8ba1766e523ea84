// Package postgres opens a service's own PostgreSQL database through gorm,
// creates it when missing (for local runs), and applies the embedded goose
// migrations of the service and of the shared outbox and inbox.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	gormpg "gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/expenseflow/expenseflow/pkg/apperr"
)

// idleTxTimeout ends sessions that sit idle inside a transaction: the outbox
// relay only reads rows of transactions older than every open one, so one
// forgotten transaction would stall event delivery for the whole service.
const idleTxTimeout = "60000" // ms

// Open connects to the database at dsn, waiting with backoff (until ctx ends)
// while the server is not up yet.
func Open(ctx context.Context, dsn string, log *slog.Logger) (*gorm.DB, error) {
	dsn, err := withRuntimeParam(dsn, "idle_in_transaction_session_timeout", idleTxTimeout)
	if err != nil {
		return nil, err
	}
	return backoff.Retry(ctx, func() (*gorm.DB, error) {
		db, err := gorm.Open(gormpg.Open(dsn), &gorm.Config{
			// Silent: a failed query returns its error to code that handles
			// or logs it once, with context; gorm logging it again would
			// double every line and print event data into the logs.
			Logger:                 logger.NewSlogLogger(log.With("component", "gorm"), logger.Config{LogLevel: logger.Silent, ParameterizedQueries: true}),
			SkipDefaultTransaction: true, // we open transactions explicitly where they matter
			PrepareStmt:            false,
		})
		if err == nil {
			err = Ping(ctx, db)
		}
		if err != nil {
			log.WarnContext(ctx, "PostgreSQL not reachable yet, retrying", "error", err)
		}
		return db, err
	}, backoff.WithBackOff(backoff.NewExponentialBackOff()), backoff.WithMaxElapsedTime(0))
}

// LimitPool caps db's pool at max connections, all of which may stay idle
// for a while: an uncapped pool lets a burst open as many connections as
// there are goroutines, and a few services at once exhaust the server's
// max_connections. Work beyond the cap waits for a connection (bounded by
// its context) instead of failing.
func LimitPool(db *gorm.DB, max int) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	sqlDB.SetMaxOpenConns(max)
	sqlDB.SetMaxIdleConns(max)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	return nil
}

// Ping checks the connection (for /readyz).
func Ping(ctx context.Context, db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// EnsureDatabase creates the database named in dsn if it does not exist,
// connecting to the server's "postgres" database to do so.
func EnsureDatabase(ctx context.Context, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	name := cfg.Database
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil || exists {
		return err
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr interface{ SQLState() string }
	if errors.As(err, &pgErr) && pgErr.SQLState() == "42P04" { // created concurrently by a sibling
		return nil
	}
	return err
}

// Migrations is one embedded set of goose SQL migrations. Each set keeps its
// own version table, so a service's migrations and the shared ones (outbox,
// inbox) are numbered independently.
type Migrations struct {
	Name string // names the version table goose_<name>_version
	FS   fs.FS  // *.sql at its root
}

// Migrate applies every set in order under a PostgreSQL advisory lock, so
// instances starting together do not race.
func Migrate(ctx context.Context, db *gorm.DB, sets ...Migrations) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	for _, set := range sets {
		if err := migrate(ctx, sqlDB, set); err != nil {
			return fmt.Errorf("migrate %s: %w", set.Name, err)
		}
	}
	return nil
}

func migrate(ctx context.Context, sqlDB *sql.DB, set Migrations) error {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	p, err := provider(sqlDB, set, goose.WithSessionLocker(locker))
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

func provider(sqlDB *sql.DB, set Migrations, opts ...goose.ProviderOption) (*goose.Provider, error) {
	return goose.NewProvider(goose.DialectPostgres, sqlDB, set.FS,
		append(opts, goose.WithTableName("goose_"+set.Name+"_version"), goose.WithDisableGlobalRegistry(true))...)
}

// ErrNotMigrated is wrapped by CheckMigrated's error: the schema is behind
// this build.
var ErrNotMigrated = errors.New("the database schema is not migrated to this build")

// CheckMigrated reports, changing nothing, whether every set is applied to
// its newest version: a service that runs as a role that may not change the
// schema checks instead of migrating (someone else migrates, as the owner).
func CheckMigrated(ctx context.Context, db *gorm.DB, sets ...Migrations) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	for _, set := range sets {
		p, err := provider(sqlDB, set)
		if err != nil {
			return err
		}
		current, target, err := p.GetVersions(ctx)
		if err != nil {
			return fmt.Errorf("%w: %s: cannot read its version (%w)", ErrNotMigrated, set.Name, err)
		}
		if current < target {
			return fmt.Errorf("%w: %s is at version %d, this build needs %d", ErrNotMigrated, set.Name, current, target)
		}
	}
	return nil
}

// SQLTx returns the *sql.Tx under a gorm transaction, for libraries that
// need one (Watermill's SQL publisher). It works because PrepareStmt is off.
func SQLTx(tx *gorm.DB) (*sql.Tx, error) {
	sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
	if !ok {
		return nil, fmt.Errorf("not inside a transaction (conn pool is %T)", tx.Statement.ConnPool)
	}
	return sqlTx, nil
}

// withRuntimeParam adds a server run-time parameter to a URL or key=value DSN
// unless the DSN already sets it; pgx passes unknown parameters to the server.
func withRuntimeParam(dsn, key, value string) (string, error) {
	if strings.Contains(dsn, key) {
		return dsn, nil
	}
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " " + key + "=" + value, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("DATABASE_URL: %w", err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// EmbeddedMigrations returns the migration set in directory dir of an
// embedded file system; it panics on a wrong dir, a programming error.
func EmbeddedMigrations(name string, fsys fs.FS, dir string) Migrations {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return Migrations{Name: name, FS: sub}
}

// Redact returns err for a log line: a PostgreSQL error's message and detail
// can quote the values of the statement ("invalid input syntax for type
// uuid: \"…\"", "Key (email)=(…) already exists"), which may be personal
// data or whatever a client sent, so only its code, severity and constraint
// are kept, with the text of the wrapping errors before it. Other errors
// pass unchanged.
func Redact(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	text := err.Error()
	if i := strings.Index(text, pgErr.Error()); i >= 0 {
		text = text[:i]
	}
	return fmt.Errorf("%spostgres %s %s (constraint %q; message withheld: it may quote data)", text, pgErr.Severity, pgErr.Code, pgErr.ConstraintName)
}

// Classify marks PostgreSQL data exceptions (SQLSTATE class 22: a NUL
// character that JSON allows but text refuses, a number out of range...) as
// apperr.Invalid: retrying cannot help, so a consumer dead-letters the
// message at once and an HTTP client gets a 422. Other errors pass unchanged.
func Classify(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22") {
		return apperr.New(apperr.Invalid, "the database refused the data: %s", pgErr.Message)
	}
	return err
}
