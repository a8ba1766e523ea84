// Command console runs the expenseflow console (:8080): a web page where a
// learner signs in as a demo user, files and decides claims, and watches
// each claim move through the five services live (services/console/README.md).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/services/console/internal/service"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" { // the container's health check
		os.Exit(platform.Healthcheck())
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "console:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := service.LoadConfig()
	if err != nil {
		return err
	}
	c, err := service.New(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return c.Run(ctx)
}
