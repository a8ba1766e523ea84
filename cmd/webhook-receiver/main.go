// Command webhook-receiver is the example an integrator should copy: a
// receiver of expenseflow's outbound webhooks (Standard Webhooks 1.0) that
//
//   - verifies the signature over the body exactly as received, with the
//     reference library (github.com/standard-webhooks/standard-webhooks),
//     accepting any of the secrets it is given (during a rotation the
//     sender signs with both, and the receiver may hold both);
//
//   - refuses a message whose timestamp is more than five minutes off
//     (the library's tolerance): a captured request cannot be replayed
//     later;
//
//   - handles each webhook-id once: a retry of a delivery it already
//     accepted (its answer was lost) is acknowledged and not acted on again.
//     Ids need remembering only as long as the timestamp tolerance — an
//     older retry is refused on its timestamp anyway;
//
//   - answers quickly (2xx), and does the slow work after, so the sender's
//     timeout never turns a success into a retry.
//
//     WEBHOOK_SECRETS=whsec_…[,whsec_…] RECEIVER_ADDR=:8090 go run ./cmd/webhook-receiver
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	secrets := strings.Split(os.Getenv("WEBHOOK_SECRETS"), ",")
	r, err := newReceiver(secrets, time.Now, func(m delivery) {
		log.Info("webhook received", "webhook_id", m.ID, "type", m.Type, "bytes", len(m.Body))
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhook-receiver:", err)
		os.Exit(2)
	}
	addr := os.Getenv("RECEIVER_ADDR")
	if addr == "" {
		addr = ":8090"
	}
	srv := &http.Server{Addr: addr, Handler: r, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Info("receiving webhooks", "addr", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "webhook-receiver:", err)
		os.Exit(1)
	}
}
