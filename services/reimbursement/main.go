// Command reimbursement runs the reimbursement service: payouts for approved
// expenses through a payment gateway, and the reimbursements read API.
package main

import (
	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/service"
)

func main() { platform.Main(service.LoadConfig, service.New) }
