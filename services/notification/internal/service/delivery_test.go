package service_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/notification/internal/service"
)

// The SMTP server is down while flows happen: the inbox keeps working,
// deliveries are retried with backoff, and when the server is back every
// notification is delivered — each exactly once, to the right address —
// except to a mailbox the server refuses for good (550), whose notifications
// fail at once with the server's answer instead of being retried forever.
func TestEmailSurvivesAnSMTPOutage(t *testing.T) {
	sink := testinfra.StartMailSink(t)
	sink.Stop()
	c, amqpURL, db := startWith(t, func(cfg *service.Config) {
		cfg.SMTPAddr, cfg.SMTPTimeout = sink.Addr(), 2*time.Second
		cfg.DeliveryInterval, cfg.DeliveryRetryBase, cfg.DeliveryRetryMax = 50*time.Millisecond, 50*time.Millisecond, 400*time.Millisecond
		cfg.DeliveryMaxAttempts = 1000
	})
	count := func(where string) int {
		var n int64
		if err := db.Table("notifications").Where(where).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return int(n)
	}

	// 4 submissions reach both managers (8), 3 approvals reach alice (3).
	for i := range 4 {
		testinfra.PublishEvent(t, amqpURL, submitted(t, fmt.Sprintf("00000000-0000-4000-8000-%012d", i), "alice"))
	}
	for i := range 3 {
		testinfra.PublishEvent(t, amqpURL, envelope(t, events.ExpenseApprovedV1{ExpenseID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			EmployeeID: "alice", ApproverID: "bob", AmountMinor: 4250, Currency: "EUR", Category: "travel", ApprovedAt: time.Now()}))
	}
	const want = 11
	testinfra.Eventually(t, 30*time.Second, "every notification is made and has failed at least twice", func() bool {
		return count("delivery_attempts >= 2") == want
	})
	if n := len(inbox(c, "bob", "").Items); n != 4 {
		t.Fatalf("with SMTP down bob's inbox shows %d notifications, want 4", n)
	}
	if count("delivery_status = 'sent'") != 0 || len(sink.Mails()) != 0 {
		t.Fatal("something was sent while the SMTP server was down")
	}

	sink.Refuse("frank@expenseflow.test") // frank is told about the 4 submissions
	sink.Start()
	testinfra.Eventually(t, 20*time.Second, "every notification is delivered or refused", func() bool {
		return count("delivery_status = 'sent'") == want-4 && count("delivery_status = 'failed'") == 4
	})
	if n := count("delivery_status = 'failed' AND recipient_id = 'frank' AND delivery_error LIKE '%550%'"); n != 4 {
		t.Fatalf("%d of frank's notifications failed with the server's 550", n)
	}

	type sent struct{ ID, Email string }
	var rows []sent
	if err := db.Raw("SELECT id, email FROM notifications").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	mails := sink.Mails()
	byID := map[string][]testinfra.Mail{}
	for _, m := range mails {
		byID[m.MessageID] = append(byID[m.MessageID], m)
	}
	if len(mails) != want-4 || len(byID) != want-4 {
		t.Fatalf("the sink got %d mails with %d distinct Message-IDs, want %d each", len(mails), len(byID), want-4)
	}
	for _, r := range rows {
		if r.Email == "frank@expenseflow.test" {
			continue
		}
		got := byID["<"+r.ID+"@expenseflow>"]
		if len(got) != 1 || len(got[0].To) != 1 || got[0].To[0] != r.Email {
			t.Errorf("notification %s to %s: delivered as %+v", r.ID, r.Email, got)
		}
	}
}
