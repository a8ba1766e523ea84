// Command audit runs the audit service: the append-only log of every event,
// searchable by auditors and readable as an ordered feed.
package main

import (
	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/services/audit/internal/service"
)

func main() { platform.Main(service.LoadConfig, service.New) }
