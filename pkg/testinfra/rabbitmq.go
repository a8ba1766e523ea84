package testinfra

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/topology"
)

// VHost creates a fresh RabbitMQ virtual host, grants the test user every
// permission on it, and returns the AMQP URL of it. It is deleted when the
// test ends.
func VHost(t testing.TB, prefix string) (amqpURL string, api *API) {
	t.Helper()
	s := Get(t)
	api = &API{base: s.APIURL, VHost: prefix + "-" + randomSuffix()}
	user := api.user()
	if err := api.do(http.MethodPut, "/api/vhosts/"+url.PathEscape(api.VHost), nil, nil); err != nil {
		t.Fatalf("create RabbitMQ vhost (is the management plugin enabled? `rabbitmq-plugins enable rabbitmq_management`): %v", err)
	}
	perms := map[string]string{"configure": ".*", "write": ".*", "read": ".*"}
	if err := api.do(http.MethodPut, "/api/permissions/"+url.PathEscape(api.VHost)+"/"+url.PathEscape(user), perms, nil); err != nil {
		t.Fatalf("grant permissions on vhost %s: %v", api.VHost, err)
	}
	t.Cleanup(func() {
		if err := api.do(http.MethodDelete, "/api/vhosts/"+url.PathEscape(api.VHost), nil, nil); err != nil {
			t.Errorf("delete vhost %s: %v", api.VHost, err)
		}
	})
	u, err := url.Parse(s.AMQPURL)
	if err != nil {
		t.Fatalf("%s: %v", AMQPEnv, err)
	}
	u.Path = "/" + api.VHost
	u.RawPath = "/" + url.PathEscape(api.VHost)
	return u.String(), api
}

// API is a small client of the RabbitMQ management API, scoped to one vhost.
type API struct {
	base  string
	VHost string
}

// Queue is what the management API reports about a queue.
type Queue struct {
	Name      string `json:"name"`
	Messages  int    `json:"messages"`
	Consumers int    `json:"consumers"`
}

// Queues lists the vhost's queues with their depth (ready + unacked).
func (a *API) Queues() ([]Queue, error) {
	var qs []Queue
	err := a.do(http.MethodGet, "/api/queues/"+url.PathEscape(a.VHost), nil, &qs)
	return qs, err
}

func (a *API) user() string {
	u, err := url.Parse(a.base)
	if err != nil || u.User == nil {
		return "guest"
	}
	return u.User.Username()
}

func (a *API) do(method, path string, body, out any) error {
	u, err := url.Parse(a.base)
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, u.Scheme+"://"+u.Host+path, rd)
	if err != nil {
		return err
	}
	pass, _ := u.User.Password()
	req.SetBasicAuth(u.User.Username(), pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, msg)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
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
