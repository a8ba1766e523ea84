// Package system gathers the console's system page: the bus as the broker
// sees it (exchanges, queues with depth and consumers, the unrouted queue),
// each service's dead letters with the reason they failed, and each
// service's outbox backlog. All of it is read where it lives, when the page
// is drawn: the management API, the dead-letter queues, the services'
// /metrics.
package system

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/topology"
	"github.com/expenseflow/expenseflow/services/console/internal/backend"
)

// Overview is the system page.
type Overview struct {
	Exchanges   []Exchange
	Queues      []amqpx.Queue
	BrokerErr   error // the management API did not answer
	DeadLetters []amqpx.DeadLetter
	// DeadLettersErr says why dead letters could not be listed (no
	// operator connection configured, or it failed).
	DeadLettersErr error
	Unrouted       int
	Outboxes       []Outbox
}

// Exchange is one exchange of the vhost.
type Exchange struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Durable bool   `json:"durable"`
}

// Outbox is one service's relay backlog, from its /metrics.
type Outbox struct {
	Service   string
	Messages  float64
	OldestAge time.Duration
	Err       error
}

// Broker is what the system page reads and does.
type Broker struct {
	api      *amqpx.Management // nil: no RABBITMQ_API
	vhost    string
	operator string // AMQP URL of the operator's broker user; "" switches dead letters off
	services []backend.Named
	http     *http.Client
}

// ErrNoOperator is why dead letters are not listed without OPERATOR_AMQP_URL.
var ErrNoOperator = errors.New("dead letters are read and replayed as the operator's broker user: set OPERATOR_AMQP_URL to see them here (or use cmd/deadletters)")

// New returns a Broker for the vhost of amqpURL. apiURL is the management
// API (with credentials), operatorURL the operator's AMQP URL; either may be
// empty, and the page then says what it cannot show.
func New(apiURL, amqpURL, operatorURL string, services []backend.Named) (*Broker, error) {
	b := &Broker{operator: operatorURL, services: services, http: &http.Client{Timeout: backend.Timeout}, vhost: "/"}
	if u, err := url.Parse(amqpURL); err == nil && strings.Trim(u.Path, "/") != "" {
		b.vhost, _ = url.PathUnescape(strings.TrimPrefix(u.Path, "/"))
	}
	if apiURL != "" {
		api, err := amqpx.NewManagement(apiURL)
		if err != nil {
			return nil, fmt.Errorf("RABBITMQ_API: %w", err)
		}
		b.api = api
	}
	return b, nil
}

// CanReplay reports whether dead letters can be replayed from here.
func (b *Broker) CanReplay() bool { return b.operator != "" }

// Overview reads everything the system page shows.
func (b *Broker) Overview(ctx context.Context) Overview {
	var o Overview
	ctx, cancel := context.WithTimeout(ctx, backend.Timeout)
	defer cancel()
	if b.api == nil {
		o.BrokerErr = errors.New("RABBITMQ_API is not set: the console cannot ask the broker for its queues")
	} else {
		o.Queues, o.BrokerErr = b.api.Queues(ctx, b.vhost)
		if o.BrokerErr == nil {
			o.BrokerErr = b.api.Do(ctx, http.MethodGet, "/api/exchanges/"+url.PathEscape(b.vhost), nil, &o.Exchanges)
		}
		o.Exchanges = slices.DeleteFunc(o.Exchanges, func(e Exchange) bool { return e.Name == "" || strings.HasPrefix(e.Name, "amq.") })
		// The console's own live queues are a view, not part of the system.
		o.Queues = slices.DeleteFunc(o.Queues, func(q amqpx.Queue) bool { return strings.HasPrefix(q.Name, "console.") })
		for _, q := range o.Queues {
			if q.Name == amqpx.UnroutedQueue {
				o.Unrouted = q.Messages
			}
		}
	}
	o.DeadLetters, o.DeadLettersErr = b.deadLetters()
	for _, s := range b.services {
		o.Outboxes = append(o.Outboxes, b.outbox(ctx, s))
	}
	return o
}

// deadLetters lists every service's dead letters without removing them.
func (b *Broker) deadLetters() ([]amqpx.DeadLetter, error) {
	if b.operator == "" {
		return nil, ErrNoOperator
	}
	dl, err := amqpx.DialDeadLetters(b.operator)
	if err != nil {
		return nil, err
	}
	defer dl.Close()
	var all []amqpx.DeadLetter
	for _, service := range slices.Sorted(maps.Keys(topology.All)) {
		letters, err := dl.List(service)
		if err != nil {
			return all, fmt.Errorf("%s: %w", service, err)
		}
		all = append(all, letters...)
	}
	return all, nil
}

// Replay sends one dead letter of service back to the queue it failed in;
// false when it is no longer there (someone replayed it already).
func (b *Broker) Replay(ctx context.Context, service, messageID string) (bool, error) {
	if b.operator == "" {
		return false, ErrNoOperator
	}
	if _, ok := topology.All[service]; !ok {
		return false, fmt.Errorf("no service %q has dead letters", service)
	}
	dl, err := amqpx.DialDeadLetters(b.operator)
	if err != nil {
		return false, err
	}
	defer dl.Close()
	n, err := dl.Replay(ctx, service, func(l amqpx.DeadLetter) bool { return l.MessageID == messageID })
	return n > 0, err
}

// Outbox metrics every service with an outbox exports (pkg/outbox).
const (
	backlogMetric = "expenseflow_outbox_backlog_messages"
	oldestMetric  = "expenseflow_outbox_oldest_unrelayed_age_seconds"
)

func (b *Broker) outbox(ctx context.Context, s backend.Named) Outbox {
	out := Outbox{Service: s.Name}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/metrics", nil)
	if err != nil {
		out.Err = err
		return out
	}
	resp, err := b.http.Do(req)
	if err != nil {
		out.Err = err
		return out
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		out.Err = err
		return out
	}
	backlog, ok := families[backlogMetric]
	if !ok {
		out.Messages = -1 // no outbox: it publishes nothing
		return out
	}
	for _, m := range backlog.GetMetric() {
		out.Messages += m.GetGauge().GetValue()
	}
	if oldest, ok := families[oldestMetric]; ok {
		for _, m := range oldest.GetMetric() {
			out.OldestAge = max(out.OldestAge, time.Duration(m.GetGauge().GetValue()*float64(time.Second)))
		}
	}
	return out
}
