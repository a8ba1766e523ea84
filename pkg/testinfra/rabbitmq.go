package testinfra

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/topology"
)

// VHost creates a fresh RabbitMQ virtual host, grants the test user every
// permission on it, creates the broker users of the services and the
// operator with their permissions there (as brokersetup does), and returns
// the AMQP URL of it as the test user. It is deleted when the test ends.
func VHost(t testing.TB, prefix string) (amqpURL string, api *API) {
	t.Helper()
	s := Get(t)
	mgmt, err := amqpx.NewManagement(s.APIURL)
	if err != nil {
		t.Fatal(err)
	}
	api = &API{Management: mgmt, VHost: prefix + "-" + randomSuffix()}
	ctx := context.Background()
	if err := mgmt.Do(ctx, http.MethodPut, "/api/vhosts/"+url.PathEscape(api.VHost), nil, nil); err != nil {
		t.Fatalf("create RabbitMQ vhost (is the management plugin enabled? `rabbitmq-plugins enable rabbitmq_management`): %v", err)
	}
	t.Cleanup(func() {
		if err := mgmt.Do(ctx, http.MethodDelete, "/api/vhosts/"+url.PathEscape(api.VHost), nil, nil); err != nil {
			t.Errorf("delete vhost %s: %v", api.VHost, err)
		}
	})
	admin, err := amqp.ParseURI(s.AMQPURL)
	if err != nil {
		t.Fatalf("%s: %v", AMQPEnv, err)
	}
	perms := map[string]string{"configure": ".*", "write": ".*", "read": ".*"}
	if err := mgmt.Do(ctx, http.MethodPut, "/api/permissions/"+url.PathEscape(api.VHost)+"/"+url.PathEscape(admin.Username), perms, nil); err != nil {
		t.Fatalf("grant permissions on vhost %s: %v", api.VHost, err)
	}
	if err := mgmt.ApplyUsers(ctx, api.VHost, topology.Users(), topology.DevPassword); err != nil {
		t.Fatalf("create the broker users: %v", err)
	}
	u, err := url.Parse(s.AMQPURL)
	if err != nil {
		t.Fatalf("%s: %v", AMQPEnv, err)
	}
	u.Path = "/" + api.VHost
	u.RawPath = "/" + url.PathEscape(api.VHost)
	return u.String(), api
}

// UserURL is amqpURL with the credentials of a broker user (a service or
// the operator, with its development password) instead of the test user's.
func UserURL(amqpURL, user string) string {
	return withUser(amqpURL, user, topology.DevPassword(user))
}

// API is a client of the RabbitMQ management API, scoped to one vhost.
type API struct {
	*amqpx.Management
	VHost string
}

// Queue is what the management API reports about a queue.
type Queue = amqpx.Queue

// Queues lists the vhost's queues with their depth (ready + unacked).
func (a *API) Queues() ([]Queue, error) {
	return a.Management.Queues(context.Background(), a.VHost)
}

func withUser(rawURL, user, pass string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	u.User = url.UserPassword(user, pass)
	return u.String()
}

// Topology declares the whole expenseflow topology in the vhost at amqpURL,
// as brokersetup does before a deployment's services start.
func Topology(t testing.TB, amqpURL string) {
	t.Helper()
	DeclareTopology(t, amqpURL, amqpx.QueueClassic, topology.All)
}

// DeclareTopology declares topo (exchanges, queues, bindings, dead-letter
// queues) in the vhost at amqpURL: tests of the plumbing use queues of their own.
func DeclareTopology(t testing.TB, amqpURL, queueType string, topo amqpx.Topology) {
	t.Helper()
	if err := amqpx.DeclareTopology(amqpURL, queueType, topo); err != nil {
		t.Fatalf("declare the RabbitMQ topology: %v", err)
	}
}

// BrokerUser creates the broker user u (with its development password) and
// its permissions in the vhost of amqpURL, and returns the AMQP URL that
// connects as it: tests of the plumbing run consumers of their own, with a
// service's least privilege.
func BrokerUser(t testing.TB, amqpURL string, u amqpx.User) string {
	t.Helper()
	mgmt, err := amqpx.NewManagement(Get(t).APIURL)
	if err != nil {
		t.Fatal(err)
	}
	uri, err := amqp.ParseURI(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := mgmt.ApplyUsers(context.Background(), uri.Vhost, []amqpx.User{u}, topology.DevPassword); err != nil {
		t.Fatalf("create broker user %s: %v", u.Name, err)
	}
	return UserURL(amqpURL, u.Name)
}

// Bindings lists the routing keys queue is bound to on exchange, sorted.
func (a *API) Bindings(queue, exchange string) ([]string, error) {
	var bindings []struct {
		Source     string `json:"source"`
		RoutingKey string `json:"routing_key"`
	}
	path := "/api/queues/" + url.PathEscape(a.VHost) + "/" + url.PathEscape(queue) + "/bindings"
	if err := a.Do(context.Background(), http.MethodGet, path, nil, &bindings); err != nil {
		return nil, err
	}
	keys := []string{}
	for _, b := range bindings {
		if b.Source == exchange {
			keys = append(keys, b.RoutingKey)
		}
	}
	slices.Sort(keys)
	return keys, nil
}
