// Package postgres is the approval service's persistence: the expenses table
// (write model) with its outbox writes, and the expense_views table (read
// model) maintained by the projection.
package postgres

import (
	"context"
	"embed"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/pkg/outbox"
	"github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/services/approval/internal/app"
	"github.com/expenseflow/expenseflow/services/approval/internal/domain"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the approval schema.
var Migrations = postgres.EmbeddedMigrations("approval", migrationFiles, "migrations")

// Expenses is the write-model store.
type Expenses struct{ db *gorm.DB }

// NewExpenses returns the write-model store on db.
func NewExpenses(db *gorm.DB) *Expenses { return &Expenses{db: db} }

type expenseRow struct {
	ID          string `gorm:"primaryKey"`
	EmployeeID  string
	AmountMinor int64
	Currency    string
	Category    string
	CostCenter  string
	Description string
	IncurredOn  time.Time
	Status      string
	Version     int64
	DecidedBy   string
	Reason      string
	SubmittedAt time.Time
	UpdatedAt   time.Time `gorm:"autoUpdateTime:false"` // the domain's clock, not gorm's
}

func (expenseRow) TableName() string { return "expenses" }

// Add inserts a new expense and its events in one transaction.
func (s *Expenses) Add(ctx context.Context, e *domain.Expense, evs ...events.Envelope) error {
	return postgres.Transaction(ctx, s.db, func(tx *gorm.DB) error {
		row := toRow(e.Snapshot())
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return outbox.Publish(ctx, tx, evs...)
	})
}

// Update applies change with optimistic concurrency: the row is written only
// if its version is still the one that was read. When another writer got
// there first, the expense is read again and change decides afresh on what
// that writer left: two identical decisions then both succeed (the second
// finds its decision made and changes nothing), two different ones give the
// second a Conflict from the domain's rules, never a lost update.
func (s *Expenses) Update(ctx context.Context, id string, change func(*domain.Expense) ([]events.Envelope, error)) (*domain.Expense, error) {
	return s.updateRetrying(ctx, id, func(_ *gorm.DB, e *domain.Expense) ([]events.Envelope, error) { return change(e) })
}

// updateRetrying is Update for a change that also writes rows of its own
// in the same transaction (the void saga's).
func (s *Expenses) updateRetrying(ctx context.Context, id string, change func(tx *gorm.DB, e *domain.Expense) ([]events.Envelope, error)) (*domain.Expense, error) {
	for attempt := 1; ; attempt++ {
		var e *domain.Expense
		err := postgres.Transaction(ctx, s.db, func(tx *gorm.DB) (err error) {
			e, err = update(ctx, tx, id, false, change)
			return err
		})
		if !errors.Is(err, errChangedConcurrently) {
			return e, err
		}
		if attempt == maxUpdateAttempts {
			return nil, apperr.New(apperr.Conflict, "expense %s keeps being changed concurrently; reload and retry", id)
		}
	}
}

// maxUpdateAttempts bounds the re-reads of Update under contention: a claim
// has a handful of legal transitions, so a few attempts settle any race.
const maxUpdateAttempts = 5

var errChangedConcurrently = errors.New("changed concurrently")

// update reads expense id in tx (locking its row when lock is set: the
// caller cannot retry), runs change and, if it returns events, writes the
// new state, guarded by the version read, and the events.
func update(ctx context.Context, tx *gorm.DB, id string, lock bool, change func(tx *gorm.DB, e *domain.Expense) ([]events.Envelope, error)) (*domain.Expense, error) {
	q := tx
	if lock {
		q = tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var row expenseRow
	if err := q.Take(&row, "id = ?", id).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, apperr.New(apperr.NotFound, "expense %s not found", id)
		}
		return nil, err
	}
	e := domain.Restore(fromRow(row))
	evs, err := change(tx, e)
	if err != nil || len(evs) == 0 {
		return e, err
	}
	next := toRow(e.Snapshot())
	if next.Version != row.Version {
		res := tx.Model(&expenseRow{}).Where("id = ? AND version = ?", id, row.Version).
			Select("*").Omit("id").Updates(&next)
		if res.Error != nil {
			return nil, res.Error
		}
		if res.RowsAffected == 0 {
			return nil, errChangedConcurrently
		}
	}
	return e, outbox.Publish(ctx, tx, evs...)
}

// Get reads expense id.
func (s *Expenses) Get(ctx context.Context, id string) (*domain.Expense, error) {
	var row expenseRow
	err := postgres.Conn(ctx, s.db).Take(&row, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.New(apperr.NotFound, "expense %s not found", id)
	}
	if err != nil {
		return nil, err
	}
	return domain.Restore(fromRow(row)), nil
}

// Owner returns the submitter of expense id.
func (s *Expenses) Owner(ctx context.Context, id string) (string, error) {
	var owner []string
	if err := postgres.Conn(ctx, s.db).Model(&expenseRow{}).Where("id = ?", id).Pluck("employee_id", &owner).Error; err != nil {
		return "", err
	}
	if len(owner) == 0 {
		return "", apperr.New(apperr.NotFound, "expense %s not found", id)
	}
	return owner[0], nil
}

func toRow(s domain.Snapshot) expenseRow {
	return expenseRow{
		ID: s.ID, EmployeeID: s.EmployeeID, AmountMinor: s.AmountMinor, Currency: s.Currency,
		Category: s.Category, CostCenter: s.CostCenter, Description: s.Description, IncurredOn: s.IncurredOn,
		Status: string(s.Status), Version: s.Version, DecidedBy: s.DecidedBy, Reason: s.Reason,
		SubmittedAt: s.SubmittedAt, UpdatedAt: s.UpdatedAt,
	}
}

func fromRow(r expenseRow) domain.Snapshot {
	return domain.Snapshot{
		ID: r.ID, EmployeeID: r.EmployeeID, AmountMinor: r.AmountMinor, Currency: r.Currency,
		Category: r.Category, CostCenter: r.CostCenter, Description: r.Description, IncurredOn: r.IncurredOn,
		Status: domain.Status(r.Status), Version: r.Version, DecidedBy: r.DecidedBy, Reason: r.Reason,
		SubmittedAt: r.SubmittedAt, UpdatedAt: r.UpdatedAt,
	}
}

// Views is the read-model store: the expense_views table, or during a
// rebuild the table that will replace it.
type Views struct {
	db    *gorm.DB
	table string
}

// The live read model, and the one a rebuild fills beside it.
const (
	viewsTable   = "expense_views"
	rebuildTable = "expense_views_rebuild"
)

// NewViews returns the read-model store on db.
func NewViews(db *gorm.DB) *Views { return &Views{db: db, table: viewsTable} }

type viewRow struct {
	ID              string `gorm:"primaryKey"`
	EmployeeID      string
	AmountMinor     int64
	Currency        string
	Category        string
	CostCenter      string
	Description     string
	IncurredOn      string
	Status          string
	PublicStatus    string
	Version         int64
	DecidedBy       string
	Reason          string
	ReimbursementID string
	PaymentStatus   string
	PaymentSequence int64
	VoidOutcome     string
	SubmittedAt     *time.Time
	UpdatedAt       time.Time `gorm:"autoUpdateTime:false"` // the newest event's time, set by the projection
}

func (viewRow) TableName() string { return "expense_views" }

// Project applies an event to its claim's view — in the same transaction as
// the inbox record, so a redelivered event is skipped and a crash halfway
// leaves nothing behind. The row is locked while the event is applied,
// since several consumers apply a claim's events side by side.
//
// Two statements either way: a claim's first event finds no row and
// inserts it whole; every later one locks the row and updates it. Two
// first events racing both find no row; one insert wins, the other waits
// on it, does nothing, and then applies its event to the winner's row.
func (s *Views) Project(ctx context.Context, key inbox.Key, expenseID string, apply func(*app.View)) error {
	return inbox.Once(ctx, s.db, key, func(tx *gorm.DB) error {
		var rows []viewRow
		if err := tx.Table(s.table).Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", expenseID).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			v := viewRow{ID: expenseID}.view()
			apply(&v)
			first := fromView(v)
			created := tx.Table(s.table).Clauses(clause.OnConflict{DoNothing: true}).Create(&first)
			if created.Error != nil || created.RowsAffected == 1 {
				return created.Error
			}
			// Another consumer inserted the row meanwhile: apply to that.
			if err := tx.Table(s.table).Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", expenseID).Find(&rows).Error; err != nil {
				return err
			}
		}
		v := rows[0].view()
		apply(&v)
		next := fromView(v)
		return tx.Table(s.table).Select("*").Save(&next).Error
	})
}

// Rebuild creates an empty copy of the read model beside it, and forgets
// what an earlier, unfinished rebuild left. The replay fills the copy under
// its own inbox consumer name, one short transaction per event, while the
// live projection goes on; Commit swaps it in.
func (s *Views) Rebuild(ctx context.Context, consumer string) (app.Rebuilding, error) {
	r := &rebuilding{Views: Views{db: s.db, table: rebuildTable}, live: consumer, consumer: consumer + "#rebuild"}
	if err := r.Discard(ctx); err != nil {
		return nil, err
	}
	err := s.db.WithContext(ctx).Exec("CREATE TABLE " + rebuildTable + " (LIKE " + viewsTable + " INCLUDING ALL)").Error
	return r, err
}

// rebuilding is the read model a rebuild fills beside the live one.
type rebuilding struct {
	Views
	live, consumer string // the projection's inbox consumer name, and the rebuild's
}

func (r *rebuilding) Project(ctx context.Context, key inbox.Key, expenseID string, apply func(*app.View)) error {
	key.Consumer = r.consumer
	return r.Views.Project(ctx, key, expenseID, apply)
}

// Commit swaps the rebuilt read model in, in one transaction of local work
// only: lock the live projection out (inbox first, then the view table, the
// order the live projection writes them, so the two cannot deadlock), check
// that the replay has every event the live projection applied, copy the
// rows over and hand the replay's inbox records to the live consumer.
// Readers see the old rows until the commit.
func (r *rebuilding) Commit(ctx context.Context) (int, error) {
	var missing int
	err := r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("LOCK TABLE inbox, " + viewsTable + " IN EXCLUSIVE MODE").Error; err != nil {
			return err
		}
		err := tx.Raw(`SELECT count(*) FROM inbox l WHERE l.consumer = ?
			AND NOT EXISTS (SELECT 1 FROM inbox r WHERE r.consumer = ? AND r.event_id = l.event_id)`, r.live, r.consumer).Scan(&missing).Error
		if err != nil || missing > 0 {
			return err // not yet: nothing changes
		}
		for _, stmt := range []string{
			"DELETE FROM " + viewsTable,
			"INSERT INTO " + viewsTable + " SELECT * FROM " + rebuildTable,
			"DROP TABLE " + rebuildTable,
		} {
			if err := tx.Exec(stmt).Error; err != nil {
				return err
			}
		}
		if err := tx.Exec("DELETE FROM inbox WHERE consumer = ?", r.live).Error; err != nil {
			return err
		}
		return tx.Exec("UPDATE inbox SET consumer = ? WHERE consumer = ?", r.live, r.consumer).Error
	})
	return missing, err
}

// Discard drops the rebuilt read model and its inbox records.
func (r *rebuilding) Discard(ctx context.Context) error {
	return r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("DROP TABLE IF EXISTS " + rebuildTable).Error; err != nil {
			return err
		}
		return tx.Exec("DELETE FROM inbox WHERE consumer = ?", r.consumer).Error
	})
}

// submitted is the condition on a view that is a claim yet: the projection
// applies a claim's events in any order (several consumers), so a row may
// have been started by its approval before its submission, which alone
// carries the facts (employee, amount, …). Until that arrives the row is
// not shown: no reader may see a claim without an owner or an amount, nor
// take its version as caught up.
const submitted = "submitted_at IS NOT NULL"

// Get returns one view.
func (s *Views) Get(ctx context.Context, id string) (app.View, error) {
	var row viewRow
	err := s.db.WithContext(ctx).Table(s.table).Where(submitted).Take(&row, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return app.View{}, apperr.New(apperr.NotFound, "expense %s not found", id)
	}
	return row.view(), err
}

// List returns up to limit+1 views after afterID (keyset pagination by id).
func (s *Views) List(ctx context.Context, f app.ListFilter, limit int, afterID string) ([]app.View, error) {
	q := s.db.WithContext(ctx).Table(s.table).Where(submitted).Order("id").Limit(limit + 1)
	if f.Status != "" {
		q = q.Where("public_status = ?", f.Status)
	}
	if f.EmployeeID != "" {
		q = q.Where("employee_id = ?", f.EmployeeID)
	}
	if afterID != "" {
		q = q.Where("id > ?", afterID)
	}
	var rows []viewRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	views := make([]app.View, len(rows))
	for i, r := range rows {
		views[i] = r.view()
	}
	return views, nil
}

func (r viewRow) view() app.View {
	return app.View{
		ID: r.ID, EmployeeID: r.EmployeeID, AmountMinor: r.AmountMinor, Currency: r.Currency,
		Category: r.Category, CostCenter: r.CostCenter, Description: r.Description, IncurredOn: r.IncurredOn,
		Status: r.Status, Version: r.Version, DecidedBy: r.DecidedBy, Reason: r.Reason,
		ReimbursementID: r.ReimbursementID, PaymentStatus: r.PaymentStatus, PaymentSequence: r.PaymentSequence,
		VoidOutcome: r.VoidOutcome, SubmittedAt: r.SubmittedAt, UpdatedAt: r.UpdatedAt,
	}
}

func fromView(v app.View) viewRow {
	return viewRow{
		ID: v.ID, EmployeeID: v.EmployeeID, AmountMinor: v.AmountMinor, Currency: v.Currency,
		Category: v.Category, CostCenter: v.CostCenter, Description: v.Description, IncurredOn: v.IncurredOn,
		Status: v.Status, PublicStatus: v.PublicStatus(), Version: v.Version, DecidedBy: v.DecidedBy, Reason: v.Reason,
		ReimbursementID: v.ReimbursementID, PaymentStatus: v.PaymentStatus, PaymentSequence: v.PaymentSequence,
		VoidOutcome: v.VoidOutcome, SubmittedAt: v.SubmittedAt, UpdatedAt: v.UpdatedAt,
	}
}
