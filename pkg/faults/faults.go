// Package faults injects the failures the reliability suite puts expenseflow
// through — a service killed with SIGKILL, RabbitMQ stopped and started — so
// that the end-to-end tests and the soak tool (cmd/soak -faults) break the
// system in the same ways.
//
// Every fault restores what it broke before it returns, even when its
// context ends: a test or a soak run that stops half-way must never leave a
// broker stopped or a service down behind it.
package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Fault is one failure: Inject breaks something, lets it stay broken for a
// while, repairs it, and returns once the repair is under way. Name is what
// reports call it ("SIGKILL accounting").
type Fault struct {
	Name   string
	Inject func(ctx context.Context) error
}

// Broker stops and starts the RabbitMQ application of one node with
// rabbitmqctl. stop_app closes every connection and listener — to clients it
// is a broker outage — while the Erlang node, its durable queues and their
// persistent messages stay, exactly as across a restart of the server.
type Broker struct {
	// Ctl runs rabbitmqctl with args: on this machine (LocalBroker) or inside
	// a container.
	Ctl func(ctx context.Context, args ...string) error
}

// LocalBroker runs command (default "rabbitmqctl"; e.g. "rabbitmqctl -n
// rabbit2@localhost" for another node) on this machine.
func LocalBroker(command string) Broker {
	argv := strings.Fields(command)
	if len(argv) == 0 {
		argv = []string{"rabbitmqctl"}
	}
	return Broker{Ctl: func(ctx context.Context, args ...string) error {
		out, err := exec.CommandContext(ctx, argv[0], append(argv[1:], args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %s: %w: %s", command, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}}
}

// Outage stops the broker, keeps it down for down, and starts it again,
// returning once it accepts connections. The start runs whatever happened to
// ctx in the meantime: never leave the broker stopped.
func (b Broker) Outage(ctx context.Context, down time.Duration) error {
	if err := b.Ctl(ctx, "stop_app"); err != nil {
		return errors.Join(err, b.Start())
	}
	select {
	case <-ctx.Done():
	case <-time.After(down):
	}
	return b.Start()
}

// Start starts the broker application (a no-op when it runs) and waits until
// it has booted, for at most a minute, independent of any caller's context.
func (b Broker) Start() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.Ctl(ctx, "start_app"); err != nil {
		return err
	}
	return b.Ctl(ctx, "await_startup")
}

// BrokerOutage is the Fault of an outage of random length in [down/2, down].
func BrokerOutage(b Broker, down time.Duration) Fault {
	return Fault{Name: "RabbitMQ stopped and started", Inject: func(ctx context.Context) error {
		return b.Outage(ctx, jitter(down))
	}}
}

// KillPIDFile sends SIGKILL to the process whose id is in the file: no
// graceful shutdown, nothing in flight acknowledged or committed. Whoever
// started the process is expected to start it again, as a container runtime
// or scripts/soak.sh's supervisor loop does.
func KillPIDFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("%s: no process id in %q", path, b)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("SIGKILL %d (from %s): %w", pid, path, err)
	}
	return nil
}

// Schedule injects faults, one after the other in shuffled rounds, with a
// random pause in [every/2, every] before each, for the given number of
// rounds or, with rounds 0, until ctx ends. Each injected
// fault is reported to log: its name, when it began, and its error if any.
// It returns once the fault in progress, if any, has finished: faults
// restore what they break.
func Schedule(ctx context.Context, faults []Fault, every time.Duration, rounds int, log func(name string, began time.Time, err error)) {
	if len(faults) == 0 {
		return
	}
	for round := 0; rounds == 0 || round < rounds; round++ {
		order := rand.Perm(len(faults))
		for _, i := range order {
			select {
			case <-ctx.Done():
				return
			case <-time.After(jitter(every)):
			}
			f, began := faults[i], time.Now()
			log(f.Name, began, f.Inject(context.WithoutCancel(ctx)))
		}
	}
}

// jitter is a random duration in [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}
