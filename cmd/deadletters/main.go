// Command deadletters lists, shows and replays the messages in the services'
// dead-letter queues:
//
//	deadletters list [-service approval]
//	deadletters show <message-id>
//	deadletters replay <message-id> | -all [-service approval]
//
// A replay sends a message back to the queue it failed in, with its original
// body and headers, and removes it from the dead letters once the broker has
// confirmed it. That is safe to do at any time: consumers are idempotent.
// The broker is AMQP_URL, which must connect as the operator's broker user
// (default amqp://expenseflow-operator:DEV-ONLY-expenseflow-operator@localhost:5672/,
// its development password): a consumer believes a replay only from it
// (docs/security.md, "The bus").
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/topology"
)

// services are the owners of dead-letter queues.
var services = slices.Sorted(maps.Keys(topology.All))

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "deadletters:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: deadletters list | show <id> | replay <id>|-all  [-service <name>]")
	}
	cmd := args[0]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	service := fs.String("service", "", "only this service's dead letters (default: all)")
	all := fs.Bool("all", false, "replay every dead letter")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	url := os.Getenv("AMQP_URL")
	if url == "" {
		url = "amqp://" + topology.Operator + ":" + topology.DevPassword(topology.Operator) + "@localhost:5672/"
	}
	dl, err := amqpx.DialDeadLetters(url)
	if err != nil {
		return err
	}
	defer dl.Close()
	scope := services
	if *service != "" {
		scope = []string{*service}
	}

	switch cmd {
	case "list":
		return list(dl, scope)
	case "show":
		if fs.NArg() != 1 {
			return errors.New("usage: deadletters show <message-id>")
		}
		return show(dl, scope, fs.Arg(0))
	case "replay":
		if fs.NArg() != 1 && !*all {
			return errors.New("usage: deadletters replay <message-id> | -all")
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		return replay(ctx, dl, scope, fs.Arg(0), *all)
	}
	return fmt.Errorf("unknown command %q", cmd)
}

func list(dl *amqpx.DeadLetters, scope []string) error {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SERVICE\tMESSAGE ID\tFAILED IN\tAT\tREASON")
	for _, s := range scope {
		letters, err := dl.List(s)
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		for _, l := range letters {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s, l.MessageID, l.FromQueue, l.At, firstLine(l.Reason, 100))
		}
	}
	return w.Flush()
}

func show(dl *amqpx.DeadLetters, scope []string, id string) error {
	for _, s := range scope {
		letters, err := dl.List(s)
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		for _, l := range letters {
			if l.MessageID == id {
				body := json.RawMessage(l.Body)
				if !json.Valid(l.Body) {
					body, _ = json.Marshal(string(l.Body)) // show garbage as a string
				}
				out, _ := json.MarshalIndent(map[string]any{
					"service": l.Service, "message_id": l.MessageID, "failed_in": l.FromQueue, "handler": l.Handler,
					"at": l.At, "reason": l.Reason, "published_by": l.Publisher, "headers": l.Headers, "body": body,
				}, "", "  ")
				fmt.Println(string(out))
				return nil
			}
		}
	}
	return fmt.Errorf("no dead letter %s", id)
}

func replay(ctx context.Context, dl *amqpx.DeadLetters, scope []string, id string, all bool) error {
	total := 0
	for _, s := range scope {
		n, err := dl.Replay(ctx, s, func(l amqpx.DeadLetter) bool { return all || l.MessageID == id })
		total += n
		if err != nil {
			return fmt.Errorf("%s: %w (replayed %d before)", s, err, total)
		}
	}
	fmt.Printf("replayed %d dead letter(s)\n", total)
	if total == 0 && !all {
		return fmt.Errorf("no dead letter %s", id)
	}
	return nil
}

func firstLine(s string, max int) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > max {
		s = s[:max-1] + "…"
	}
	return s
}
