package testinfra

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net"
	"net/mail"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// MailSink is an in-process SMTP server that records every message it
// accepts. It can be stopped and started again on the same address, to play
// an SMTP server that goes away and comes back.
type MailSink struct {
	t      testing.TB
	addr   string
	mu     sync.Mutex
	mails  []Mail
	server *smtp.Server
	lis    net.Listener
	refuse map[string]bool
}

// Mail is one accepted message.
type Mail struct {
	To        []string
	MessageID string
	Subject   string // decoded
	Body      string
}

// StartMailSink starts a sink on a free local port; it stops when the test ends.
func StartMailSink(t testing.TB) *MailSink {
	t.Helper()
	l := Listen(t) // its port stays free while the sink is stopped (see Listen)
	s := &MailSink{t: t, addr: l.Addr().String()}
	s.serve(l)
	t.Cleanup(s.Stop)
	return s
}

// Addr is host:port, for SMTP_ADDR.
func (s *MailSink) Addr() string { return s.addr }

// Stop closes the listener and every open connection: the server is gone.
func (s *MailSink) Stop() {
	s.mu.Lock()
	srv, lis := s.server, s.lis
	s.server, s.lis = nil, nil
	s.mu.Unlock()
	if lis != nil {
		_ = lis.Close() // ourselves: Serve may not have registered it yet
	}
	if srv != nil {
		_ = srv.Close() // and every open connection
	}
}

// Start listens again on the same address.
func (s *MailSink) Start() {
	s.t.Helper()
	var l net.Listener
	Eventually(s.t, 10*time.Second, "the sink's port is free again", func() bool {
		var err error
		l, err = net.Listen("tcp", s.addr)
		return err == nil
	})
	s.serve(l)
}

// Refuse makes the server answer 550 (mailbox unavailable, a permanent
// failure) to the given recipient address.
func (s *MailSink) Refuse(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse == nil {
		s.refuse = map[string]bool{}
	}
	s.refuse[addr] = true
}

// Mails returns what was accepted so far.
func (s *MailSink) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

func (s *MailSink) serve(l net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{sink: s}, nil }))
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = true
	s.mu.Lock()
	s.server, s.lis = srv, l
	s.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

type sinkSession struct {
	sink *MailSink
	to   []string
}

func (*sinkSession) Reset()                               {}
func (*sinkSession) Logout() error                        { return nil }
func (*sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.sink.mu.Lock()
	defer ss.sink.mu.Unlock()
	if ss.sink.refuse[to] {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return errors.New("not an RFC 5322 message")
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(msg.Body)
	ss.sink.mu.Lock()
	ss.sink.mails = append(ss.sink.mails, Mail{To: ss.to, MessageID: msg.Header.Get("Message-ID"), Subject: subject, Body: string(body)})
	ss.sink.mu.Unlock()
	return nil
}
