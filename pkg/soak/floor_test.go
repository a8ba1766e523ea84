package soak

import (
	"context"
	"io"
	"maps"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/pkg/topology"
)

// The figure docs/performance.md builds on: a flow's six events make 19
// deliveries (approval's projection hears four of them, the orchestrator
// both ledger entries, accounting two, reimbursement one, notification
// four, audit all six; webhooks none while no endpoint wants any).
func TestAFlowIsNineteenDeliveries(t *testing.T) {
	if n := DeliveriesPerFlow(topology.All); n != 19 {
		t.Fatalf("%d deliveries per flow, want 19", n)
	}
	bound := maps.Clone(topology.All)
	everything := topology.WebhooksEvents
	everything.BoundByConsumer = false // as bound for an endpoint of every event
	bound["webhooks"] = []amqpx.Subscription{everything}
	if n := DeliveriesPerFlow(bound); n != 25 {
		t.Fatalf("with an endpoint wanting every event: %d deliveries per flow, want 25", n)
	}
}

func TestParseMachineCPU(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	got, err := parseMachineCPU("cpu  1000 20 300 99999 55 7 3 11 0 0\n")
	if err != nil || got != 13300*time.Millisecond {
		t.Fatalf("got %s %v, want (1000+20+300+7+3) ticks = 13.3s", got, err)
	}
	if _, err := parseMachineCPU("intr 1 2 3"); err == nil {
		t.Fatal("a line that is not the cpu line parsed")
	}
}

func TestFloorRatio(t *testing.T) {
	// pgbench's 25 transactions cost 20 ms with the machine fully busy; a
	// flow of those plus 12 ms of broker work can reach 20/32 of the ceiling.
	if r := FloorRatio(20*time.Millisecond, 32*time.Millisecond, 1); r != 0.625 {
		t.Fatalf("ratio %v, want 0.625", r)
	}
	// pgbench kept the machine only half busy (waiting on the disk, say): the
	// ceiling is half what the CPU allows, so the bound doubles.
	if r := FloorRatio(20*time.Millisecond, 32*time.Millisecond, 0.5); r != 1.25 {
		t.Fatalf("ratio %v, want 1.25", r)
	}
}

// The floor against the real broker: every mode sends every flow's events
// through the real topology and counts every delivery, and the vhost it
// made is gone afterwards.
func TestTheBrokerFloorCountsEveryDelivery(t *testing.T) {
	s := testinfra.Get(t)
	vhost := "expenseflow-floor-test-" + time.Now().UTC().Format("150405.000000")
	const flows = 40
	floor, err := BrokerFloor(context.Background(), FloorConfig{
		AMQPURL: s.AMQPURL, API: s.APIURL, VHost: vhost, Flows: flows, Publishers: 3, Batch: 16, Progress: io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(floor.Runs) != 3 {
		t.Fatalf("%d modes measured, want 3", len(floor.Runs))
	}
	for _, r := range floor.Runs {
		if r.Published != flows*6 || r.Delivered != flows*19 {
			t.Errorf("%s: %d published, %d delivered; want %d and %d", r.Mode, r.Published, r.Delivered, flows*6, flows*19)
		}
	}
	mgmt, err := amqpx.NewManagement(s.APIURL)
	if err != nil {
		t.Fatal(err)
	}
	err = mgmt.Do(context.Background(), http.MethodGet, "/api/vhosts/"+url.PathEscape(vhost), nil, nil)
	if !amqpx.IsNotFound(err) {
		t.Fatalf("the floor's vhost after the run: %v, want it gone", err)
	}
}
