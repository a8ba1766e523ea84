package postgres

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/services/accounting/internal/app"
	"github.com/expenseflow/expenseflow/services/accounting/internal/domain"
)

// Budgets is the store of budgets and the reservations against them.
type Budgets struct{ db *gorm.DB }

// NewBudgets returns the budget store on db.
func NewBudgets(db *gorm.DB) *Budgets { return &Budgets{db: db} }

type budgetRow struct {
	CostCenter string `gorm:"primaryKey"`
	Period     string `gorm:"primaryKey"`
	Currency   string
	LimitMinor int64
	UpdatedAt  time.Time `gorm:"autoUpdateTime:false"`
}

func (budgetRow) TableName() string { return "budgets" }

type reservationRow struct {
	ExpenseID   string `gorm:"primaryKey"`
	CostCenter  string
	Period      string
	AmountMinor int64
	Currency    string
	Status      string
	ExpiresAt   time.Time
	CreatedAt   time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt   time.Time `gorm:"autoUpdateTime:false"`
}

func (reservationRow) TableName() string { return "budget_reservations" }

// Reservation states.
const (
	reserved = "reserved"
	spent    = "spent"
	released = "released"
)

// Set creates or changes a budget's limit. Its currency cannot change while
// anything is reserved or spent against it.
func (s *Budgets) Set(ctx context.Context, b domain.Budget, now time.Time) (domain.Budget, error) {
	var out domain.Budget
	err := postgres.Transaction(ctx, s.db, func(tx *gorm.DB) error {
		var rows []budgetRow
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("cost_center = ? AND period = ?", b.CostCenter, b.Period).Find(&rows).Error; err != nil {
			return err
		}
		taken, err := s.taken(tx, b.CostCenter, b.Period, "", now)
		if err != nil {
			return err
		}
		if len(rows) == 1 && rows[0].Currency != b.Currency && taken.ReservedMinor+taken.SpentMinor > 0 {
			return apperr.New(apperr.Conflict, "the %s budget of %s is in %s and already used; its currency cannot change", b.Period, b.CostCenter, rows[0].Currency)
		}
		row := budgetRow{CostCenter: b.CostCenter, Period: b.Period, Currency: b.Currency, LimitMinor: b.LimitMinor, UpdatedAt: now}
		if err := tx.Save(&row).Error; err != nil {
			return err
		}
		out = b
		out.ReservedMinor, out.SpentMinor = taken.ReservedMinor, taken.SpentMinor
		return nil
	})
	return out, err
}

// List returns the budgets of period, or of every month if period is "",
// with what is reserved and spent against each.
func (s *Budgets) List(ctx context.Context, period string, now time.Time) ([]domain.Budget, error) {
	q := postgres.Conn(ctx, s.db).Order("period, cost_center")
	if period != "" {
		q = q.Where("period = ?", period)
	}
	var rows []budgetRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]domain.Budget, 0, len(rows))
	for _, r := range rows {
		taken, err := s.taken(postgres.Conn(ctx, s.db), r.CostCenter, r.Period, "", now)
		if err != nil {
			return nil, err
		}
		out = append(out, domain.Budget{CostCenter: r.CostCenter, Period: r.Period, Currency: r.Currency, LimitMinor: r.LimitMinor,
			ReservedMinor: taken.ReservedMinor, SpentMinor: taken.SpentMinor})
	}
	return out, nil
}

// taken sums what is reserved (and not expired) and spent against a
// budget, leaving out one claim's reservation (except, "" for none).
func (s *Budgets) taken(tx *gorm.DB, costCenter, period, except string, now time.Time) (domain.Budget, error) {
	var t struct{ Reserved, Spent int64 }
	err := tx.Raw(`SELECT
			coalesce(sum(amount_minor) FILTER (WHERE status = ? AND expires_at > ?), 0) AS reserved,
			coalesce(sum(amount_minor) FILTER (WHERE status = ?), 0) AS spent
		FROM budget_reservations WHERE cost_center = ? AND period = ? AND expense_id <> ?`,
		reserved, now, spent, costCenter, period, except).Scan(&t).Error
	return domain.Budget{ReservedMinor: t.Reserved, SpentMinor: t.Spent}, err
}

// Reserve holds r.Amount of its budget for the claim r.ExpenseID until
// expires, deciding under the budget row's lock, so that concurrent
// reservations never together exceed the limit. A claim that holds a
// reservation already (a retry) gets the same answer; one whose budget
// does not exist needs none. It returns the budget after the reservation.
func (s *Budgets) Reserve(ctx context.Context, r app.Reservation, expires, now time.Time) (domain.Budget, bool, error) {
	var out domain.Budget
	budgeted := false
	err := postgres.Transaction(ctx, s.db, func(tx *gorm.DB) error {
		var rows []budgetRow
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("cost_center = ? AND period = ?", r.CostCenter, r.Period).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil // no budget: no limit, nothing to hold
		}
		budgeted = true
		b := domain.Budget{CostCenter: r.CostCenter, Period: r.Period, Currency: rows[0].Currency, LimitMinor: rows[0].LimitMinor}
		var mine []reservationRow
		if err := tx.Where("expense_id = ?", r.ExpenseID).Find(&mine).Error; err != nil {
			return err
		}
		taken, err := s.taken(tx, r.CostCenter, r.Period, r.ExpenseID, now)
		if err != nil {
			return err
		}
		b.ReservedMinor, b.SpentMinor = taken.ReservedMinor, taken.SpentMinor
		if len(mine) == 1 && mine[0].Status != reserved {
			// Spent (approved) or released (voided): the answer was given.
			if mine[0].Status == released {
				return apperr.New(apperr.Conflict, "the reservation of expense %s was released (the claim was voided)", r.ExpenseID)
			}
			b.SpentMinor += mine[0].AmountMinor
			out = b
			return nil
		}
		if err := b.Reserve(r.Amount); err != nil {
			out = b
			return err
		}
		row := reservationRow{ExpenseID: r.ExpenseID, CostCenter: r.CostCenter, Period: r.Period, AmountMinor: r.Amount.AmountMinor,
			Currency: r.Amount.Currency, Status: reserved, ExpiresAt: expires, CreatedAt: now, UpdatedAt: now}
		if len(mine) == 1 {
			row.CreatedAt = mine[0].CreatedAt
		}
		if err := tx.Save(&row).Error; err != nil {
			return err
		}
		b.ReservedMinor += r.Amount.AmountMinor
		out = b
		return nil
	})
	var over domain.OverBudget
	if errors.As(err, &over) {
		return out, budgeted, err
	}
	return out, budgeted, err
}

// settleReservation moves the reservation of expenseID, if it has one, with
// the entry that decides it: an approval spends it, a void releases it.
func settleReservation(tx *gorm.DB, e domain.Entry) error {
	status := ""
	switch e.Kind {
	case domain.Approval:
		status = spent
	case domain.Reversal, domain.Recovery:
		status = released
	default:
		return nil
	}
	q := tx.Model(&reservationRow{}).Where("expense_id = ?", e.ExpenseID)
	if status == spent {
		q = q.Where("status = ?", reserved) // a void that came first has released it for good
	}
	return q.Updates(map[string]any{"status": status, "updated_at": e.PostedAt}).Error
}
