// Package sender POSTs webhooks: one HTTP request per attempt, bounded in
// time and in what it reads, that follows no redirect and — unless private
// targets are allowed — connects to no private, loopback, link-local or
// metadata address (docs/patterns/webhooks.md, "The edge is hostile too").
package sender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/expenseflow/expenseflow/services/webhooks/internal/app"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/domain"
)

// MaxResponse is how much of a receiver's answer is read: enough for an
// error message, and a receiver cannot make the sender hold more.
const MaxResponse = 64 << 10

// Sender sends messages.
type Sender struct {
	client *http.Client
}

// New returns a sender whose requests take at most timeout. With
// allowPrivate, every address may be dialled (a demo on one machine).
func New(timeout time.Duration, allowPrivate bool) *Sender {
	dialer := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		// The check runs on the address about to be connected, after
		// name resolution: a name that resolves to 10.0.0.1 (or is made
		// to, between a check and the connection) is caught here, where
		// checking the URL's host beforehand would not.
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
			}
			if why := domain.ForbiddenAddress(ap.Addr()); why != "" {
				return fmt.Errorf("%w: %s", ErrForbiddenAddress, why)
			}
			return nil
		}
	}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would be the one connecting, past the check
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	return &Sender{client: &http.Client{
		Transport: transport,
		Timeout:   timeout,
		// A redirect is an answer, not an instruction: following it would
		// send the signed body somewhere finance never registered.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// ErrForbiddenAddress is the error of a request refused before it was
// sent, for where it would have gone.
var ErrForbiddenAddress = errors.New("refused to connect to a non-public address (WEBHOOK_ALLOW_PRIVATE is off)")

// Send makes one attempt and returns its outcome: the status code (0 if
// there was no answer) and, unless it was a 2xx, what went wrong.
func (s *Sender) Send(ctx context.Context, m app.Request) domain.Attempt {
	start := time.Now()
	a := domain.Attempt{At: start}
	status, err := s.post(ctx, m)
	a.Duration, a.StatusCode = time.Since(start), status
	if err != nil {
		a.Error = err.Error()
	}
	return a
}

func (s *Sender) post(ctx context.Context, m app.Request) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL, bytes.NewReader(m.Body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "expenseflow-webhooks/1")
	req.Header.Set(domain.HeaderID, m.ID)
	req.Header.Set(domain.HeaderTimestamp, strconv.FormatInt(m.Timestamp.Unix(), 10))
	req.Header.Set(domain.HeaderSignature, m.Signature)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("HTTP %d, reading the answer: %w", resp.StatusCode, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("HTTP %d: %s", resp.StatusCode, excerpt(answer))
	}
	return resp.StatusCode, nil
}

// excerpt is the start of a receiver's answer, safe to keep and show.
func excerpt(b []byte) string {
	const keep = 200
	if len(b) > keep {
		b = b[:keep]
	}
	return strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "")), " ")
}
