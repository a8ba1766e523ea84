package domain

import "time"

// Snapshot is the plain-data form of an Expense, for storing and showing it.
// Restore trusts its input: it comes from our own database.
type Snapshot struct {
	ID          string
	EmployeeID  string
	AmountMinor int64
	Currency    string
	Category    string
	CostCenter  string
	Description string
	IncurredOn  time.Time
	Status      Status
	Version     int64
	DecidedBy   string
	Reason      string
	SubmittedAt time.Time
	UpdatedAt   time.Time
}

// Snapshot returns e as plain data.
func (e *Expense) Snapshot() Snapshot {
	return Snapshot{
		ID: e.id, EmployeeID: e.employeeID, AmountMinor: e.amountMinor, Currency: e.currency,
		Category: e.category, CostCenter: e.costCenter, Description: e.description, IncurredOn: e.incurredOn,
		Status: e.status, Version: e.version, DecidedBy: e.decidedBy, Reason: e.reason,
		SubmittedAt: e.submittedAt, UpdatedAt: e.updatedAt,
	}
}

// Restore rebuilds an Expense from a stored snapshot.
func Restore(s Snapshot) *Expense {
	return &Expense{
		id: s.ID, employeeID: s.EmployeeID, amountMinor: s.AmountMinor, currency: s.Currency,
		category: s.Category, costCenter: s.CostCenter, description: s.Description, incurredOn: s.IncurredOn,
		status: s.Status, version: s.Version, decidedBy: s.DecidedBy, reason: s.Reason,
		submittedAt: s.SubmittedAt, updatedAt: s.UpdatedAt,
	}
}

// ID returns the expense id.
func (e *Expense) ID() string { return e.id }

// Version is the number of changes applied so far; it is the sequence of the
// event that announces the latest one.
func (e *Expense) Version() int64 { return e.version }
