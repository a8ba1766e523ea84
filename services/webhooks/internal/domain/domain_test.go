package domain_test

import (
	"bytes"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/expenseflow/expenseflow/pkg/retry"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/domain"
)

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func TestNewEndpointReportsEveryProblem(t *testing.T) {
	_, err := domain.NewEndpoint("e1", "ftp://user:pw@x/", []string{"expense.approved.*", "Expense.*", "a..b"}, "", "carol", now)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"url", "event_types[1]", "event_types[2]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	for _, bad := range []string{"", "/relative", "http://", "https://u:p@erp.example/", "http://erp.example/#x"} {
		if _, err := domain.NewEndpoint("e1", bad, []string{"#"}, "", "carol", now); err == nil {
			t.Errorf("URL %q accepted", bad)
		}
	}
	e, err := domain.NewEndpoint("e1", "https://erp.example/hooks", []string{"expense.approved.*"}, "ERP", "carol", now)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != domain.EndpointEnabled || !strings.HasPrefix(e.Secret, "whsec_") {
		t.Errorf("endpoint %+v", e)
	}
}

// The signature is checked by the Standard Webhooks reference library, not
// by our own code: the two are written independently from the spec.
func TestSignaturesVerifyWithTheReferenceLibrary(t *testing.T) {
	e, _ := domain.NewEndpoint("e1", "https://erp.example/hooks", []string{"#"}, "", "carol", now)
	body := []byte(`{"id":"01935f0e-0000-7000-8000-000000000001","type":"expense.approved.v1","data":{"amount_minor":4250}}`)
	at := time.Now()
	headers := func(sig string) http.Header {
		h := http.Header{}
		h.Set(domain.HeaderID, "01935f0e-0000-7000-8000-000000000001")
		h.Set(domain.HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
		h.Set(domain.HeaderSignature, sig)
		return h
	}
	verifier := func(secret string) *standardwebhooks.Webhook {
		v, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	sig := domain.Sign(e.SigningSecrets(at), "01935f0e-0000-7000-8000-000000000001", at, body)
	if err := verifier(e.Secret).Verify(body, headers(sig)); err != nil {
		t.Fatalf("the reference library rejects our signature: %v", err)
	}
	tampered := bytes.Replace(body, []byte("4250"), []byte("9250"), 1)
	if err := verifier(e.Secret).Verify(tampered, headers(sig)); err == nil {
		t.Error("a tampered body verified")
	}
	if err := verifier(domain.NewSecret()).Verify(body, headers(sig)); err == nil {
		t.Error("another secret verified")
	}

	// Rotation: during the overlap both secrets sign; after it, only the new.
	old := e.Secret
	e.RotateSecret(at, time.Hour)
	sig = domain.Sign(e.SigningSecrets(at), "01935f0e-0000-7000-8000-000000000001", at, body)
	if n := len(strings.Fields(sig)); n != 2 {
		t.Fatalf("%d signatures during the overlap, want 2", n)
	}
	for _, secret := range []string{old, e.Secret} {
		if err := verifier(secret).Verify(body, headers(sig)); err != nil {
			t.Errorf("during the overlap a receiver with one of the secrets rejects it: %v", err)
		}
	}
	if got := e.SigningSecrets(at.Add(time.Hour)); len(got) != 1 || got[0] != e.Secret {
		t.Errorf("after the overlap the secrets are %v", got)
	}
}

func TestPrivateAndMetadataAddressesAreForbidden(t *testing.T) {
	for _, ip := range []string{"127.0.0.1", "10.1.2.3", "172.20.0.5", "192.168.1.1", "169.254.169.254", "100.100.100.200",
		"0.0.0.0", "::1", "::", "fd00:ec2::254", "fe80::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "224.0.0.1"} {
		if domain.ForbiddenAddress(netip.MustParseAddr(ip)) == "" {
			t.Errorf("%s allowed", ip)
		}
	}
	for _, ip := range []string{"93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"} {
		if why := domain.ForbiddenAddress(netip.MustParseAddr(ip)); why != "" {
			t.Errorf("%s forbidden: %s", ip, why)
		}
	}
}

func TestAnAttemptsOutcome(t *testing.T) {
	schedule := domain.Schedule{
		Retry:        retry.Policy{MaxAttempts: 3, BaseDelay: time.Second, MaxDelay: time.Minute},
		Jitter:       func(ceiling time.Duration) time.Duration { return ceiling / 2 },
		DisableAfter: 2,
	}
	e, _ := domain.NewEndpoint("e1", "https://erp.example/hooks", []string{"#"}, "", "carol", now)
	d := domain.NewDelivery("d1", e, "ev1", "expense.approved.v1", now)
	fail := domain.Attempt{At: now, StatusCode: 503, Error: "503 Service Unavailable"}

	d.Record(fail, schedule, e)
	if d.Status != domain.DeliveryPending || d.NextAttemptAt != now.Add(500*time.Millisecond) {
		t.Fatalf("after one failure: %s, next at +%s", d.Status, d.NextAttemptAt.Sub(now))
	}
	d.Record(fail, schedule, e)
	if d.NextAttemptAt != now.Add(time.Second) { // ceiling 2 s, jittered to half
		t.Fatalf("after two failures next at +%s", d.NextAttemptAt.Sub(now))
	}
	if disabled := d.Record(fail, schedule, e); disabled || d.Status != domain.DeliveryFailed || e.FailedInARow != 1 {
		t.Fatalf("attempts exhausted: %s, endpoint %d failed in a row, disabled %v", d.Status, e.FailedInARow, disabled)
	}

	// The next failed delivery disables the endpoint (2 in a row) ...
	d2 := domain.NewDelivery("d2", e, "ev2", "expense.approved.v1", now)
	for range 3 {
		if d2.Record(fail, schedule, e) {
			break
		}
	}
	if e.Status != domain.EndpointDisabled || !strings.Contains(e.DisabledReason, "503") {
		t.Fatalf("endpoint %s (%s)", e.Status, e.DisabledReason)
	}
	// ... an event for it then fails at once, and redelivering is refused ...
	if d3 := domain.NewDelivery("d3", e, "ev3", "expense.approved.v1", now); d3.Status != domain.DeliveryFailed || d3.LastError != domain.FailedBecauseDisabled {
		t.Errorf("delivery for a disabled endpoint: %+v", d3)
	}
	if err := d.Redeliver(e, now); err == nil {
		t.Error("redelivered to a disabled endpoint")
	}
	// ... until it is enabled: then a redelivery starts over, and one
	// success resets the count.
	e.Enable()
	if err := d.Redeliver(e, now); err != nil || d.Status != domain.DeliveryPending || d.Attempts != 0 {
		t.Fatalf("redeliver: %v, %+v", err, d)
	}
	d.Record(domain.Attempt{At: now, StatusCode: 204}, schedule, e)
	if d.Status != domain.DeliveryDelivered || d.DeliveredAt == nil || e.FailedInARow != 0 || d.LastError != "" {
		t.Errorf("after a 204: %+v, endpoint %d failed in a row", d, e.FailedInARow)
	}
}

func TestBindingsCoverEveryPatternAndNoMore(t *testing.T) {
	families := []string{"expense.*.*", "reimbursement.*.*", "ledger.*.*"}
	for _, c := range []struct {
		patterns, want []string
	}{
		{nil, []string{}},
		{[]string{"expense.approved.*"}, []string{"expense.approved.*"}},
		{[]string{"expense.approved.*", "reimbursement.paid.v1", "expense.approved.*"}, []string{"expense.approved.*", "reimbursement.paid.v1"}},
		{[]string{"ledger.#"}, []string{"ledger.#"}},
		// Patterns whose first word is not a family could match any family.
		{[]string{"#"}, []string{"expense.*.*", "ledger.*.*", "reimbursement.*.*"}},
		{[]string{"*.approved.*", "expense.submitted.*"}, []string{"expense.*.*", "expense.submitted.*", "ledger.*.*", "reimbursement.*.*"}},
		// A family the queue may not receive binds nothing.
		{[]string{"webhook.endpoint_disabled.*"}, []string{}},
	} {
		got := domain.Bindings(c.patterns, families)
		if !slices.Equal(got, c.want) {
			t.Errorf("Bindings(%v) = %v, want %v", c.patterns, got, c.want)
		}
	}
}
