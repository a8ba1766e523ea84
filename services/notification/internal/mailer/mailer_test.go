package mailer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/notification/internal/app"
	"github.com/expenseflow/expenseflow/services/notification/internal/mailer"
)

// A mail arrives with its Message-ID and an encoded subject that no line
// break can turn into extra headers; a 550 is a permanent failure.
func TestSendAndRefusal(t *testing.T) {
	sink := testinfra.StartMailSink(t)
	sink.Refuse("nobody@expenseflow.test")
	m := mailer.New(sink.Addr(), "notifications@expenseflow.test", 2*time.Second, time.Now)
	subject := "Hello\r\nBcc: evil@example.com"
	err := m.Send(context.Background(), app.Mail{MessageID: "n-1", To: "alice@expenseflow.test", Subject: subject, Body: "line one\nline two"})
	if err != nil {
		t.Fatal(err)
	}
	got := sink.Mails()
	if len(got) != 1 || got[0].MessageID != "<n-1@expenseflow>" || got[0].Subject != subject ||
		len(got[0].To) != 1 || !strings.Contains(got[0].Body, "line one\r\nline two") {
		t.Fatalf("got %+v", got)
	}
	err = m.Send(context.Background(), app.Mail{MessageID: "n-2", To: "nobody@expenseflow.test", Subject: "s", Body: "b"})
	if !errors.Is(err, app.ErrUndeliverable) {
		t.Fatalf("a 550 must be undeliverable, got %v", err)
	}
}
