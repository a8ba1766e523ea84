package domain

import "time"

// Snapshot is the plain-data form of a Reimbursement, for storing and showing
// it. Restore trusts its input: it comes from our own database.
type Snapshot struct {
	ID            string
	ExpenseID     string
	EmployeeID    string
	AmountMinor   int64
	Currency      string
	Status        Status
	Attempts      int
	NextAttemptAt time.Time
	PaymentRef    string
	FailureReason string
	CorrelationID string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Snapshot returns r as plain data.
func (r *Reimbursement) Snapshot() Snapshot {
	return Snapshot{
		ID: r.id, ExpenseID: r.expenseID, EmployeeID: r.employeeID,
		AmountMinor: r.amountMinor, Currency: r.currency,
		Status: r.status, Attempts: r.attempts, NextAttemptAt: r.nextAttemptAt,
		PaymentRef: r.paymentRef, FailureReason: r.failureReason, CorrelationID: r.correlationID,
		CreatedAt: r.createdAt, UpdatedAt: r.updatedAt,
	}
}

// Restore rebuilds a Reimbursement from a stored snapshot.
func Restore(s Snapshot) *Reimbursement {
	return &Reimbursement{
		id: s.ID, expenseID: s.ExpenseID, employeeID: s.EmployeeID,
		amountMinor: s.AmountMinor, currency: s.Currency,
		status: s.Status, attempts: s.Attempts, nextAttemptAt: s.NextAttemptAt,
		paymentRef: s.PaymentRef, failureReason: s.FailureReason, correlationID: s.CorrelationID,
		createdAt: s.CreatedAt, updatedAt: s.UpdatedAt,
	}
}
