package app

import (
	"github.com/expenseflow/expenseflow/pkg/authz"
	"github.com/expenseflow/expenseflow/pkg/directory"
)

// Actions of the approval service: one per use case, the keys of Access.
const (
	SubmitExpense   = "expenses.submit"
	ApproveExpense  = "expenses.approve"
	RejectExpense   = "expenses.reject"
	WithdrawExpense = "expenses.withdraw"
	GetExpense      = "expenses.get"
	ListExpenses    = "expenses.list"
	VoidExpense     = "expenses.void"
	GetVoid         = "voids.get"
	ListVoids       = "voids.list"
)

// Access says who may do what with a claim (docs/security.md, "Authorization"); every use case checks
// it, and the component tests walk every route against it. The owner of a
// claim is its submitter.
var Access = authz.Table{
	// Anyone signed in files claims, for themselves only.
	SubmitExpense: authz.Everyone(authz.Own),
	// Managers decide, never on their own claim (segregation of duties; the
	// domain refuses it too).
	ApproveExpense: {directory.RoleManager: authz.Others},
	RejectExpense:  {directory.RoleManager: authz.Others},
	// Only the submitter withdraws: to anyone else the claim is not found.
	WithdrawExpense: authz.Everyone(authz.Own),
	// Employees see their own claims; managers, finance and auditors all.
	GetExpense:   readers,
	ListExpenses: readers,
	// Finance takes an approval back (a duplicate receipt, fraud); a void's
	// steps are seen by whoever sees the claim; the list of unfinished and
	// stuck sagas is finance's and the auditors'.
	VoidExpense: {directory.RoleFinance: authz.All},
	GetVoid:     readers,
	ListVoids:   {directory.RoleFinance: authz.All, directory.RoleAuditor: authz.All},
}

var readers = authz.Rule{
	directory.RoleEmployee: authz.Own,
	directory.RoleManager:  authz.All,
	directory.RoleFinance:  authz.All,
	directory.RoleAuditor:  authz.All,
}
