package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/expenseflow/expenseflow/pkg/brokerfiles"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/pkg/topology"
)

// TestCommittedFilesAreCurrent: compose and k8s create the broker users
// from files rendered from the one table; a change to the table must reach
// them.
func TestCommittedFilesAreCurrent(t *testing.T) {
	for _, f := range []struct {
		path string
		arg  string
	}{
		{"../../deploy/rabbitmq/definitions.json", "definitions"},
		{"../../deploy/k8s/base/broker-users.yaml", "k8s"},
	} {
		committed, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := render(t, f.arg); !bytes.Equal(got, committed) {
			t.Errorf("%s is not what `brokersetup %s` renders today: run `make broker-files`", f.path, f.arg)
		}
	}
}

func render(t *testing.T, arg string) []byte {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	err = run(context.Background(), []string{arg})
	os.Stdout = stdout
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(r)
	return buf.Bytes()
}

// TestDefinitionsLetEachUserIn loads the compose definitions into a real
// broker (for a vhost of the test's own) and connects as every user with
// its development password: the password hashes are RabbitMQ's own format.
func TestDefinitionsLetEachUserIn(t *testing.T) {
	amqpURL, api := testinfra.VHost(t, "definitions")
	raw, err := brokerfiles.Definitions(api.VHost, "guest", "guest")
	if err != nil {
		t.Fatal(err)
	}
	var defs map[string][]map[string]any
	if err := json.Unmarshal(raw, &defs); err != nil {
		t.Fatal(err)
	}
	// Leave the machine's administrator alone; the vhost exists already.
	var users []map[string]any
	for _, u := range defs["users"] {
		if u["name"] != "guest" {
			users = append(users, u)
		}
	}
	defs["users"] = users
	delete(defs, "vhosts")
	if err := api.Do(context.Background(), http.MethodPost, "/api/definitions", defs, nil); err != nil {
		t.Fatal(err)
	}
	for _, u := range topology.Users() {
		conn, err := amqp.Dial(testinfra.UserURL(amqpURL, u.Name))
		if err != nil {
			t.Errorf("%s cannot connect with its development password: %v", u.Name, err)
			continue
		}
		conn.Close()
	}
	testinfra.Topology(t, amqpURL)
	// And the permissions came with them: approval publishes its own
	// events only, and reads its own queues only.
	if err := testinfra.TryPublish(t, amqpURL, "approval", "approval", "reimbursement.paid.v1", "m-1", []byte("{}")); err == nil || !strings.Contains(err.Error(), "ACCESS_REFUSED") {
		t.Errorf("approval published reimbursement's routing key: %v", err)
	}
	conn, err := amqp.Dial(testinfra.UserURL(amqpURL, "approval"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, _ := conn.Channel()
	if _, err := ch.Consume("accounting.expense-approved", "", false, false, false, false, nil); err == nil || !strings.Contains(err.Error(), "ACCESS_REFUSED") {
		t.Errorf("approval consumed accounting's queue: %v", err)
	}
}
