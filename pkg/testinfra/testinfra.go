// Package testinfra gives tests real, isolated infrastructure: a fresh
// PostgreSQL database and a fresh RabbitMQ virtual host per call, removed
// when the test ends, so packages running in parallel never see each other's
// rows or messages.
//
// Where the servers come from, in order:
//  1. TEST_POSTGRES_URL (a DSN of any database on the server, as a superuser)
//     and TEST_AMQP_URL (with TEST_RABBITMQ_API for the management API; by
//     default the AMQP host on port 15672 with the same credentials);
//  2. otherwise containers started with testcontainers-go (needs Docker);
//  3. otherwise the test fails with a message saying how to provide them.
//     Real-infrastructure tests never skip silently.
package testinfra

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/expenseflow/expenseflow/pkg/faults"
)

// Env variables that point tests at running servers.
const (
	PostgresEnv    = "TEST_POSTGRES_URL"
	AMQPEnv        = "TEST_AMQP_URL"
	RabbitMQAPIEnv = "TEST_RABBITMQ_API"
	// RabbitMQCtlEnv is the command that runs rabbitmqctl for the node
	// behind TEST_AMQP_URL; default "rabbitmqctl" (the local node).
	RabbitMQCtlEnv = "TEST_RABBITMQCTL"
)

// Servers are the PostgreSQL and RabbitMQ servers tests run against.
type Servers struct {
	PostgresURL string // admin DSN
	AMQPURL     string // amqp://user:pass@host:port/ (default vhost)
	APIURL      string // http://user:pass@host:port of the management API

	rabbitmqctl func(ctx context.Context, args ...string) error // set for a container
}

// BrokerControl stops and starts the tests' RabbitMQ (see pkg/faults). Only
// for a test that runs alone: every test sharing the broker sees the outage
// (scripts/test.sh runs such tests in a step of their own).
func BrokerControl(t testing.TB) faults.Broker {
	t.Helper()
	if s := Get(t); s.rabbitmqctl != nil {
		return faults.Broker{Ctl: s.rabbitmqctl}
	}
	return faults.LocalBroker(os.Getenv(RabbitMQCtlEnv))
}

var (
	once    sync.Once
	servers Servers
	errUp   error
)

// Get returns the servers, starting containers once per test binary if the
// environment names none.
func Get(t testing.TB) Servers {
	t.Helper()
	once.Do(func() { servers, errUp = find() })
	if errUp != nil {
		t.Fatalf("tests need real PostgreSQL and RabbitMQ: %v\n"+
			"Set %s and %s (see README, 'Running the tests'), or run Docker so testcontainers can start them.",
			errUp, PostgresEnv, AMQPEnv)
	}
	return servers
}

func find() (Servers, error) {
	s := Servers{PostgresURL: os.Getenv(PostgresEnv), AMQPURL: os.Getenv(AMQPEnv), APIURL: os.Getenv(RabbitMQAPIEnv)}
	if s.PostgresURL == "" || s.AMQPURL == "" {
		return startContainers()
	}
	if s.APIURL == "" {
		u, err := url.Parse(s.AMQPURL)
		if err != nil {
			return s, fmt.Errorf("%s: %w", AMQPEnv, err)
		}
		s.APIURL = (&url.URL{Scheme: "http", User: u.User, Host: u.Hostname() + ":15672"}).String()
	}
	return s, nil
}

// Database creates a fresh database and returns its DSN; it is dropped (with
// any connections still open) when the test ends.
func Database(t testing.TB, prefix string) string {
	t.Helper()
	admin := Get(t).PostgresURL
	name := prefix + "_" + randomSuffix()
	if err := AdminExec(t, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := AdminExec(t, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// AdminExec runs one statement on the test server's administrative
// database as the test's superuser.
func AdminExec(t testing.TB, sql string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, Get(t).PostgresURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
