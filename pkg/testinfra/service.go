package testinfra

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/directory"
	"github.com/expenseflow/expenseflow/pkg/platform"
)

// JWTSecret signs the tokens of every test.
const JWTSecret = "test-secret-test-secret-test-secret-0123456789"

// PlatformConfig returns the platform configuration of service for a
// component test: a fresh database and vhost (with the topology declared),
// an ephemeral port, quick retries.
func PlatformConfig(t testing.TB, service string) (platform.Config, *API) {
	t.Helper()
	// Start from the defaults the binary runs with (envDefault tags), so a
	// new setting needs no edit here; then what a test must differ in.
	var cfg platform.Config
	if err := platform.Fill(&cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Service, cfg.HTTPAddr = service, "127.0.0.1:0"
	cfg.DatabaseURL = Database(t, service)
	amqpURL, api := VHost(t, service)
	Topology(t, amqpURL)
	cfg.AMQPURL = UserURL(amqpURL, service) // each service is its own broker user
	cfg.ShutdownGrace = 5 * time.Second     // tests stop many services; do not wait 20 s each
	cfg.DatabaseMaxConns = 5                // packages run in parallel on one server (100 connections)
	cfg.JWT.Secret = JWTSecret
	return cfg, api
}

// Run runs a started service until the test ends and returns its base URL.
func Run(t testing.TB, p *platform.Platform) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("service stopped with an error: %v", err)
		}
	})
	return "http://" + p.Addr()
}

// ServicePublicKey is the base64 public key of a service's development
// signing key (auth.DevServiceKey), which the tests' services sign their
// service tokens with.
func ServicePublicKey(service string) string {
	return base64.StdEncoding.EncodeToString(auth.DevServiceKey(service).Public().(ed25519.PublicKey))
}

// ServiceSigningKey is the base64 seed of a service's development signing key.
func ServiceSigningKey(service string) string {
	return base64.StdEncoding.EncodeToString(auth.DevServiceKey(service).Seed())
}

// Token mints a token for a demo user.
func Token(t testing.TB, userID string) string {
	t.Helper()
	dir, err := directory.Load("")
	if err != nil {
		t.Fatal(err)
	}
	u, ok := dir.Lookup(userID)
	if !ok {
		t.Fatalf("no demo user %q", userID)
	}
	token, err := auth.Mint(auth.Config{Secret: JWTSecret, Issuer: "expenseflow", Audience: "expenseflow"}, u, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// Client calls a service's REST API as one demo user or another.
type Client struct {
	T        testing.TB
	Base     string
	Header   http.Header // sent with every request, e.g. Idempotency-Key
	Contract *Contract   // if set, every response is checked against it
}

// For returns a copy of c that reports to t, e.g. a subtest.
func (c Client) For(t testing.TB) Client {
	c.T = t
	return c
}

// WithHeader returns a copy of c that also sends the header key: value.
func (c Client) WithHeader(key, value string) Client {
	h := c.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set(key, value)
	c.Header = h
	return c
}

// Call sends body (JSON, unless nil) as user ("" for no token) and decodes
// the response into out (unless nil). It returns the response, body read.
func (c Client) Call(method, path, user string, body, out any) *http.Response {
	c.T.Helper()
	var raw []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.T.Fatal(err)
		}
		raw = b
	}
	send := func() *http.Response {
		var rd io.Reader
		if raw != nil {
			rd = bytes.NewReader(raw)
		}
		req, err := http.NewRequest(method, c.Base+path, rd)
		if err != nil {
			c.T.Fatal(err)
		}
		for k, v := range c.Header {
			req.Header[k] = v
		}
		req.Header.Set("Content-Type", "application/json")
		if user != "" {
			req.Header.Set("Authorization", "Bearer "+Token(c.T, user))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			c.T.Fatalf("%s %s: %v", method, path, err)
		}
		return resp
	}
	resp := send()
	// Over the caller's rate limit: wait as Retry-After says, as a
	// considerate client does (tests drive many requests as few users).
	for resp.StatusCode == http.StatusTooManyRequests {
		wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		resp.Body.Close()
		time.Sleep(time.Duration(wait) * time.Second)
		resp = send()
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if c.Contract != nil {
		c.Contract.check(c.T, resp.Request, resp, got)
	}
	if out != nil && len(got) > 0 {
		if err := json.Unmarshal(got, out); err != nil {
			c.T.Fatalf("%s %s: decode %q: %v", method, path, got, err)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(got))
	return resp
}

// Eventually polls cond until it holds or timeout passes, then fails the test
// with msg. Asynchronous effects are awaited this way, never with sleeps.
func Eventually(t testing.TB, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
