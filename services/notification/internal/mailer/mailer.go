// Package mailer sends notification e-mail over SMTP with the standard
// library's net/smtp. net/smtp is frozen but complete for what we need — plain
// SMTP to a relay or a sink such as Mailpit, with STARTTLS when the server
// offers it — and adds no dependency; a library like go-mail would add
// attachments and HTML we do not send.
package mailer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"github.com/expenseflow/expenseflow/services/notification/internal/app"
)

// SMTP sends mail through one server.
type SMTP struct {
	addr    string // host:port
	from    string
	timeout time.Duration
	now     func() time.Time
}

// New returns a mailer for the server at addr, sending as from.
func New(addr, from string, timeout time.Duration, now func() time.Time) *SMTP {
	return &SMTP{addr: addr, from: from, timeout: timeout, now: now}
}

// Send delivers m in one SMTP conversation. A 5xx reply is permanent
// (app.ErrUndeliverable); a 4xx reply or a network failure is transient.
func (s *SMTP) Send(ctx context.Context, m app.Mail) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline) // bounds the whole conversation, not just the dial
	host, _, _ := net.SplitHostPort(s.addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return classify(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
			return classify(err)
		}
	}
	if err := c.Mail(s.from); err != nil {
		return classify(err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return classify(err)
	}
	w, err := c.Data()
	if err != nil {
		return classify(err)
	}
	if _, err := w.Write(s.message(m)); err != nil {
		return classify(err)
	}
	if err := w.Close(); err != nil {
		return classify(err)
	}
	return classify(c.Quit())
}

// message is the RFC 5322 text: encoded headers (no header injection: a
// subject cannot contain a line break once Q-encoded), then the body with
// CRLF line ends.
func (s *SMTP) message(m app.Mail) []byte {
	var b strings.Builder
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", s.from)
	header("To", m.To)
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Message-ID", "<"+m.MessageID+"@expenseflow>")
	header("Date", s.now().UTC().Format(time.RFC1123Z))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n"))
	b.WriteString("\r\n")
	return []byte(b.String())
}

func classify(err error) error {
	var reply *textproto.Error
	if errors.As(err, &reply) && reply.Code >= 500 {
		return fmt.Errorf("%w: %v", app.ErrUndeliverable, err)
	}
	return err
}
