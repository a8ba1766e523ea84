package events

import "time"

// ExpenseSubmittedV1: an employee submitted a claim. Sequence 1 of the
// expense. Superseded by v2; still decoded (and upcast) forever, because
// stored and queued v1 events never go away.
type ExpenseSubmittedV1 struct {
	ExpenseID   string    `json:"expense_id"`
	EmployeeID  string    `json:"employee_id"`
	AmountMinor int64     `json:"amount_minor"`
	Currency    string    `json:"currency"`
	Category    string    `json:"category"`
	Description string    `json:"description"`
	IncurredOn  string    `json:"incurred_on"` // YYYY-MM-DD
	SubmittedAt time.Time `json:"submitted_at"`
}

// ExpenseSubmittedV2 adds the cost center the claim is booked to. It is
// what producers emit now; a v1 event is upcast to it on decoding, with
// DefaultCostCenter, so consumers only ever handle v2.
type ExpenseSubmittedV2 struct {
	ExpenseID   string    `json:"expense_id"`
	EmployeeID  string    `json:"employee_id"`
	AmountMinor int64     `json:"amount_minor"`
	Currency    string    `json:"currency"`
	Category    string    `json:"category"`
	CostCenter  string    `json:"cost_center"`
	Description string    `json:"description"`
	IncurredOn  string    `json:"incurred_on"` // YYYY-MM-DD
	SubmittedAt time.Time `json:"submitted_at"`
}

// DefaultCostCenter is the cost center of claims made before cost centers
// existed (every upcast v1 event).
const DefaultCostCenter = "general"

// upcast turns a v1 submission into v2: the only difference is the new
// field, whose value for old events is the documented default.
func (p ExpenseSubmittedV1) upcast() ExpenseSubmittedV2 {
	return ExpenseSubmittedV2{
		ExpenseID: p.ExpenseID, EmployeeID: p.EmployeeID, AmountMinor: p.AmountMinor, Currency: p.Currency,
		Category: p.Category, CostCenter: DefaultCostCenter, Description: p.Description,
		IncurredOn: p.IncurredOn, SubmittedAt: p.SubmittedAt,
	}
}

// ExpenseApprovedV1: a manager approved a claim. It repeats the claim's money
// fields so accounting and reimbursement need nothing else to act on it.
type ExpenseApprovedV1 struct {
	ExpenseID   string    `json:"expense_id"`
	EmployeeID  string    `json:"employee_id"`
	ApproverID  string    `json:"approver_id"`
	AmountMinor int64     `json:"amount_minor"`
	Currency    string    `json:"currency"`
	Category    string    `json:"category"`
	ApprovedAt  time.Time `json:"approved_at"`
}

// ExpenseRejectedV1: a manager rejected a claim, with a reason.
type ExpenseRejectedV1 struct {
	ExpenseID  string    `json:"expense_id"`
	EmployeeID string    `json:"employee_id"`
	ApproverID string    `json:"approver_id"`
	Reason     string    `json:"reason"`
	RejectedAt time.Time `json:"rejected_at"`
}

// ExpenseWithdrawnV1: the submitter withdrew a claim that was still open.
type ExpenseWithdrawnV1 struct {
	ExpenseID   string    `json:"expense_id"`
	EmployeeID  string    `json:"employee_id"`
	WithdrawnAt time.Time `json:"withdrawn_at"`
}

func (ExpenseSubmittedV1) EventType() string { return ExpenseSubmittedV1Type }
func (ExpenseSubmittedV2) EventType() string { return ExpenseSubmittedV2Type }
func (ExpenseApprovedV1) EventType() string  { return ExpenseApprovedV1Type }
func (ExpenseRejectedV1) EventType() string  { return ExpenseRejectedV1Type }
func (ExpenseWithdrawnV1) EventType() string { return ExpenseWithdrawnV1Type }

func (p ExpenseSubmittedV1) SubjectID() string { return p.ExpenseID }
func (p ExpenseSubmittedV2) SubjectID() string { return p.ExpenseID }
func (p ExpenseApprovedV1) SubjectID() string  { return p.ExpenseID }
func (p ExpenseRejectedV1) SubjectID() string  { return p.ExpenseID }
func (p ExpenseWithdrawnV1) SubjectID() string { return p.ExpenseID }

func (p ExpenseSubmittedV1) Validate() error {
	return check(
		id("expense_id", p.ExpenseID),
		required("employee_id", p.EmployeeID),
		money(p.AmountMinor, p.Currency),
		required("category", p.Category),
		date("incurred_on", p.IncurredOn),
	)
}

func (p ExpenseSubmittedV2) Validate() error {
	return check(p.upcastBack().Validate(), required("cost_center", p.CostCenter))
}

// upcastBack is v2 without its new field, to reuse v1's rules.
func (p ExpenseSubmittedV2) upcastBack() ExpenseSubmittedV1 {
	return ExpenseSubmittedV1{
		ExpenseID: p.ExpenseID, EmployeeID: p.EmployeeID, AmountMinor: p.AmountMinor, Currency: p.Currency,
		Category: p.Category, Description: p.Description, IncurredOn: p.IncurredOn, SubmittedAt: p.SubmittedAt,
	}
}

func (p ExpenseApprovedV1) Validate() error {
	return check(
		id("expense_id", p.ExpenseID),
		required("employee_id", p.EmployeeID),
		required("approver_id", p.ApproverID),
		decidedByAnother(p.EmployeeID, p.ApproverID),
		money(p.AmountMinor, p.Currency),
		required("category", p.Category),
	)
}

func (p ExpenseRejectedV1) Validate() error {
	return check(
		id("expense_id", p.ExpenseID),
		required("employee_id", p.EmployeeID),
		required("approver_id", p.ApproverID),
		decidedByAnother(p.EmployeeID, p.ApproverID),
	)
}

func (p ExpenseWithdrawnV1) Validate() error {
	return check(id("expense_id", p.ExpenseID), required("employee_id", p.EmployeeID))
}
