// Command notification runs the notification service: it turns expense and
// reimbursement events into notifications and serves each user's inbox.
package main

import (
	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/services/notification/internal/service"
)

func main() { platform.Main(service.LoadConfig, service.New) }
