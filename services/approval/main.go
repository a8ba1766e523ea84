// Command approval runs the approval service: expense claims and their
// lifecycle, and the expenses read API.
//
//	approval                      run the service
//	approval rebuild-projection   rebuild the read model from the audit feed
//	approval healthcheck          probe a running instance's /readyz
package main

import (
	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/services/approval/internal/service"
)

func main() {
	platform.Main(service.LoadConfig, service.New, platform.Command[service.Config]{
		Name: "rebuild-projection", Run: service.RebuildProjection,
	})
}
