package testinfra

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
	tcrabbitmq "github.com/testcontainers/testcontainers-go/modules/rabbitmq"
)

// Images used when tests start their own servers.
const (
	postgresImage = "postgres:16-alpine"
	rabbitImage   = "rabbitmq:3.13-management-alpine"
)

// startContainers starts PostgreSQL and RabbitMQ (with the management API)
// for the whole test binary. testcontainers' reaper removes them when the
// binary exits.
func startContainers() (s Servers, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	defer func() {
		if r := recover(); r != nil { // testcontainers panics when no Docker is found
			err = fmt.Errorf("no Docker available: %v", r)
		}
	}()
	if _, err := testcontainers.NewDockerClientWithOpts(ctx); err != nil {
		return s, fmt.Errorf("no Docker available: %w", err)
	}
	pg, err := tcpostgres.Run(ctx, postgresImage,
		tcpostgres.WithUsername("postgres"), tcpostgres.WithPassword("postgres"), tcpostgres.WithDatabase("postgres"),
		tcpostgres.BasicWaitStrategies())
	if err != nil {
		return s, fmt.Errorf("start PostgreSQL container: %w", err)
	}
	if s.PostgresURL, err = pg.ConnectionString(ctx, "sslmode=disable"); err != nil {
		return s, err
	}
	rmq, err := tcrabbitmq.Run(ctx, rabbitImage)
	if err != nil {
		return s, fmt.Errorf("start RabbitMQ container: %w", err)
	}
	if s.AMQPURL, err = rmq.AmqpURL(ctx); err != nil {
		return s, err
	}
	httpURL, err := rmq.HttpURL(ctx)
	if err != nil {
		return s, err
	}
	s.APIURL = withUser(httpURL, rmq.AdminUsername, rmq.AdminPassword)
	// rabbitmqctl inside the container: stopping the application keeps the
	// container and its mapped ports, so the broker comes back where it was.
	s.rabbitmqctl = func(ctx context.Context, args ...string) error {
		code, out, err := rmq.Exec(ctx, append([]string{"rabbitmqctl"}, args...), tcexec.Multiplexed())
		if err == nil && code != 0 {
			msg, _ := io.ReadAll(out)
			err = fmt.Errorf("rabbitmqctl %v: exit %d: %s", args, code, msg)
		}
		return err
	}
	if s.PostgresURL == "" || s.AMQPURL == "" {
		return s, errors.New("containers started without endpoints")
	}
	return s, nil
}
