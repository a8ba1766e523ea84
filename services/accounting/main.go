// Command accounting runs the accounting service: the double-entry journal
// fed by approved expenses and paid reimbursements, and the ledger read API.
package main

import (
	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/services/accounting/internal/service"
)

func main() { platform.Main(service.LoadConfig, service.New) }
