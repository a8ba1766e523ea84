// Command webhooks runs the webhooks service: it sends the events finance
// subscribes endpoints to as signed HTTP POSTs (Standard Webhooks), retried
// from a persisted schedule until they are delivered or visibly failed.
package main

import (
	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/service"
)

func main() { platform.Main(service.LoadConfig, service.New) }
