package app

import (
	"github.com/expenseflow/expenseflow/pkg/authz"
	"github.com/expenseflow/expenseflow/pkg/directory"
)

// Actions of the accounting service: one per use case, the keys of Access.
const (
	ListEntries  = "ledger.entries"
	ListBalances = "ledger.balances"
)

// Access says who may read the ledger (docs/security.md, "Authorization"). It shows every employee's
// money, so only finance and auditors see it; nobody "owns" a ledger entry.
var Access = authz.Table{
	ListEntries:  ledgerReaders,
	ListBalances: ledgerReaders,
}

var ledgerReaders = authz.Rule{directory.RoleFinance: authz.All, directory.RoleAuditor: authz.All}
