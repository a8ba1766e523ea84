// Command approval runs the approval service: expense claims and their
// lifecycle, and the expenses read API.
package main

import (
	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/services/approval/internal/service"
)

func main() { platform.Main(service.LoadConfig, service.New) }
