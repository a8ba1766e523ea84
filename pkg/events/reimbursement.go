package events

import "time"

// ReimbursementScheduledV1: a payout was scheduled for an approved expense.
// Sequence 1 of the reimbursement.
type ReimbursementScheduledV1 struct {
	ReimbursementID string `json:"reimbursement_id"`
	ExpenseID       string `json:"expense_id"`
	EmployeeID      string `json:"employee_id"`
	AmountMinor     int64  `json:"amount_minor"`
	Currency        string `json:"currency"`
}

// ReimbursementPaidV1: the payment gateway confirmed the payout.
type ReimbursementPaidV1 struct {
	ReimbursementID string    `json:"reimbursement_id"`
	ExpenseID       string    `json:"expense_id"`
	EmployeeID      string    `json:"employee_id"`
	AmountMinor     int64     `json:"amount_minor"`
	Currency        string    `json:"currency"`
	PaymentRef      string    `json:"payment_ref"`
	PaidAt          time.Time `json:"paid_at"`
}

// ReimbursementFailedV1: the payout failed for good (a permanent gateway error
// or too many transient ones).
type ReimbursementFailedV1 struct {
	ReimbursementID string    `json:"reimbursement_id"`
	ExpenseID       string    `json:"expense_id"`
	EmployeeID      string    `json:"employee_id"`
	AmountMinor     int64     `json:"amount_minor"`
	Currency        string    `json:"currency"`
	Reason          string    `json:"reason"`
	FailedAt        time.Time `json:"failed_at"`
}

func (ReimbursementScheduledV1) EventType() string { return ReimbursementScheduledV1Type }
func (ReimbursementPaidV1) EventType() string      { return ReimbursementPaidV1Type }
func (ReimbursementFailedV1) EventType() string    { return ReimbursementFailedV1Type }

func (p ReimbursementScheduledV1) SubjectID() string { return p.ReimbursementID }
func (p ReimbursementPaidV1) SubjectID() string      { return p.ReimbursementID }
func (p ReimbursementFailedV1) SubjectID() string    { return p.ReimbursementID }

func (p ReimbursementScheduledV1) Validate() error {
	return check(
		id("reimbursement_id", p.ReimbursementID),
		id("expense_id", p.ExpenseID),
		required("employee_id", p.EmployeeID),
		money(p.AmountMinor, p.Currency),
	)
}

func (p ReimbursementPaidV1) Validate() error {
	return check(
		id("reimbursement_id", p.ReimbursementID),
		id("expense_id", p.ExpenseID),
		required("employee_id", p.EmployeeID),
		money(p.AmountMinor, p.Currency),
		required("payment_ref", p.PaymentRef),
	)
}

func (p ReimbursementFailedV1) Validate() error {
	return check(
		id("reimbursement_id", p.ReimbursementID),
		id("expense_id", p.ExpenseID),
		required("employee_id", p.EmployeeID),
		money(p.AmountMinor, p.Currency),
	)
}
