package postgres

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/pkg/outbox"
	"github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/services/approval/internal/domain"
)

// Voids is the store of the void sagas, beside the expenses they void: a
// saga's state, its expense and its events commit together.
type Voids struct {
	db       *gorm.DB
	expenses *Expenses
}

// NewVoids returns the saga store on db.
func NewVoids(db *gorm.DB) *Voids { return &Voids{db: db, expenses: NewExpenses(db)} }

type voidRow struct {
	ExpenseID        string `gorm:"primaryKey"`
	EmployeeID       string
	Category         string
	AmountMinor      int64
	Currency         string
	Reason           string
	RequestedBy      string
	CorrelationID    string
	Step             string
	Outcome          string
	StopCommandID    string
	EntryCommandID   *string
	Sends            int
	NextAttemptAt    time.Time
	RequestedAt      time.Time
	PayoutAnsweredAt *time.Time
	EntryPostedAt    *time.Time
	CompletedAt      *time.Time
	UpdatedAt        time.Time `gorm:"autoUpdateTime:false"`
}

func (voidRow) TableName() string { return "voids" }

// Start runs request on expense id, as Expenses.Update does; when it
// returns a saga, the saga is stored with the expense and the events.
func (s *Voids) Start(ctx context.Context, id string, request func(*domain.Expense) ([]events.Envelope, *domain.Void, error)) (*domain.Expense, error) {
	return s.expenses.updateRetrying(ctx, id, func(tx *gorm.DB, e *domain.Expense) ([]events.Envelope, error) {
		evs, v, err := request(e)
		if err != nil || v == nil {
			return evs, err
		}
		row := toVoidRow(*v)
		return evs, tx.Create(&row).Error
	})
}

// Advance locks expenseID's saga and then its expense, runs step on them
// and stores what it changed and the events it returns, in one transaction
// with the inbox record of key. An expense with no saga: nothing to do.
func (s *Voids) Advance(ctx context.Context, key inbox.Key, expenseID string, step func(*domain.Expense, *domain.Void) ([]events.Envelope, error)) error {
	return inbox.Once(ctx, s.db, key, func(tx *gorm.DB) error {
		var rows []voidRow
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("expense_id = ?", expenseID).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil // a reply to no void of ours (a replay, a stale copy): nothing to advance
		}
		v := rows[0].void()
		before := v
		_, err := update(ctx, tx, expenseID, true, func(_ *gorm.DB, e *domain.Expense) ([]events.Envelope, error) {
			return step(e, &v)
		})
		if err != nil || v == before {
			return err
		}
		return tx.Select("*").Save(ptr(toVoidRow(v))).Error
	})
}

// ResendDue hands each saga whose step has timed out by now to resend,
// which returns the command to send again; up to n sagas, each in a
// transaction of its own that stores the saga's new timeout with the
// command. FOR UPDATE SKIP LOCKED lets several instances share the work.
func (s *Voids) ResendDue(ctx context.Context, now time.Time, n int, resend func(*domain.Void) ([]events.Envelope, error)) (int, error) {
	done := 0
	for done < n {
		found := false
		err := postgres.Transaction(ctx, s.db, func(tx *gorm.DB) error {
			var rows []voidRow
			if err := tx.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"}).
				Where("step <> ? AND next_attempt_at <= ?", domain.StepDone, now).Order("next_attempt_at").Limit(1).Find(&rows).Error; err != nil {
				return err
			}
			if len(rows) == 0 {
				return nil
			}
			found = true
			v := rows[0].void()
			evs, err := resend(&v)
			if err != nil {
				return err
			}
			if err := tx.Select("*").Save(ptr(toVoidRow(v))).Error; err != nil {
				return err
			}
			return outbox.Publish(ctx, tx, evs...)
		})
		if err != nil || !found {
			return done, err
		}
		done++
	}
	return done, nil
}

// Get returns the saga of expenseID.
func (s *Voids) Get(ctx context.Context, expenseID string) (domain.Void, error) {
	var r voidRow
	err := postgres.Conn(ctx, s.db).Take(&r, "expense_id = ?", expenseID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.Void{}, apperr.New(apperr.NotFound, "expense %s has no void", expenseID)
	}
	return r.void(), err
}

// List returns up to limit sagas, oldest first: unfinished ones only, or
// only those stuck (sent MaxVoidSends times without an answer).
func (s *Voids) List(ctx context.Context, stuckOnly bool, limit int) ([]domain.Void, error) {
	q := postgres.Conn(ctx, s.db).Where("step <> ?", domain.StepDone).Order("requested_at").Limit(limit)
	if stuckOnly {
		q = q.Where("sends >= ?", domain.MaxVoidSends)
	}
	var rows []voidRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]domain.Void, len(rows))
	for i, r := range rows {
		out[i] = r.void()
	}
	return out, nil
}

func toVoidRow(v domain.Void) voidRow {
	r := voidRow{
		ExpenseID: v.ExpenseID, EmployeeID: v.EmployeeID, Category: v.Category, AmountMinor: v.AmountMinor, Currency: v.Currency,
		Reason: v.Reason, RequestedBy: v.RequestedBy, CorrelationID: v.CorrelationID, Step: string(v.Step), Outcome: v.Outcome,
		StopCommandID: v.StopCommandID, Sends: v.Sends, NextAttemptAt: v.NextAttemptAt, RequestedAt: v.RequestedAt,
		PayoutAnsweredAt: v.PayoutAnsweredAt, EntryPostedAt: v.EntryPostedAt, CompletedAt: v.CompletedAt, UpdatedAt: v.UpdatedAt,
	}
	if v.EntryCommandID != "" {
		r.EntryCommandID = &v.EntryCommandID
	}
	return r
}

func (r voidRow) void() domain.Void {
	v := domain.Void{
		ExpenseID: r.ExpenseID, EmployeeID: r.EmployeeID, Category: r.Category, AmountMinor: r.AmountMinor, Currency: r.Currency,
		Reason: r.Reason, RequestedBy: r.RequestedBy, CorrelationID: r.CorrelationID, Step: domain.VoidStep(r.Step), Outcome: r.Outcome,
		StopCommandID: r.StopCommandID, Sends: r.Sends, NextAttemptAt: r.NextAttemptAt, RequestedAt: r.RequestedAt,
		PayoutAnsweredAt: r.PayoutAnsweredAt, EntryPostedAt: r.EntryPostedAt, CompletedAt: r.CompletedAt, UpdatedAt: r.UpdatedAt,
	}
	if r.EntryCommandID != nil {
		v.EntryCommandID = *r.EntryCommandID
	}
	return v
}

func ptr[T any](v T) *T { return &v }
