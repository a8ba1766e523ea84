package app

import (
	"github.com/expenseflow/expenseflow/pkg/authz"
	"github.com/expenseflow/expenseflow/pkg/directory"
)

// Actions of the reimbursement service: one per use case, the keys of Access.
const (
	GetReimbursement   = "reimbursements.get"
	ListReimbursements = "reimbursements.list"
	RunPayoutBatch     = "payouts.run"
)

// Access says who may do what (docs/security.md, "Authorization"). The owner of a reimbursement is
// the employee it pays.
var Access = authz.Table{
	GetReimbursement:   readers,
	ListReimbursements: readers,
	// Only finance moves money on demand; the timer needs nobody's permission.
	RunPayoutBatch: {directory.RoleFinance: authz.All},
}

// readers: finance pays everyone and auditors check everyone; employees and
// managers are paid like anyone else and see only their own reimbursements.
var readers = authz.Rule{
	directory.RoleEmployee: authz.Own,
	directory.RoleManager:  authz.Own,
	directory.RoleFinance:  authz.All,
	directory.RoleAuditor:  authz.All,
}
