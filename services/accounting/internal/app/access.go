package app

import (
	"github.com/expenseflow/expenseflow/pkg/authz"
	"github.com/expenseflow/expenseflow/pkg/directory"
)

// Actions of the accounting service: one per use case, the keys of Access.
const (
	ListEntries  = "ledger.entries"
	ListBalances = "ledger.balances"
	SetBudget    = "budgets.set"
	ListBudgets  = "budgets.list"
)

// Access says who may read the ledger (docs/security.md, "Authorization"). It shows every employee's
// money, so only finance and auditors see it; nobody "owns" a ledger entry.
var Access = authz.Table{
	ListEntries:  ledgerReaders,
	ListBalances: ledgerReaders,
	// Finance sets budgets; managers see them too, since they approve
	// against them.
	SetBudget:   {directory.RoleFinance: authz.All},
	ListBudgets: {directory.RoleFinance: authz.All, directory.RoleAuditor: authz.All, directory.RoleManager: authz.All},
}

var ledgerReaders = authz.Rule{directory.RoleFinance: authz.All, directory.RoleAuditor: authz.All}
