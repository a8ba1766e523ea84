// Package apiclient calls expenseflow's REST APIs as users of the
// directory, with JSON bodies and bearer tokens it mints itself. The tools
// that drive a running stack from outside — the soak driver (pkg/soak) and
// the demo-data seeder (cmd/seed) — share it.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/directory"
	"github.com/expenseflow/expenseflow/pkg/idempotency"
)

// Client sends requests as the users it holds tokens for.
type Client struct {
	HTTP   *http.Client
	tokens map[string]string // user id → bearer token
}

// New mints a token valid for ttl for each of users, looked up in the user
// directory at directoryPath ("" for the demo users).
func New(httpClient *http.Client, cfg auth.Config, directoryPath string, users []string, ttl time.Duration) (*Client, error) {
	dir, err := directory.Load(directoryPath)
	if err != nil {
		return nil, err
	}
	c := &Client{HTTP: httpClient, tokens: map[string]string{}}
	for _, id := range users {
		if id == "" || c.tokens[id] != "" {
			continue
		}
		u, ok := dir.Lookup(id)
		if !ok {
			return nil, fmt.Errorf("user %q is not in the user directory", id)
		}
		if c.tokens[id], err = auth.Mint(cfg, u, time.Now(), ttl); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// StatusError is an answer that is not 2xx. Body is its start: for
// expenseflow's services, a problem+json document.
type StatusError struct {
	Code       int
	Body       string
	RetryAfter time.Duration // from the Retry-After header, when there was one
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Code, http.StatusText(e.Code), e.Body)
}

// Do sends body as JSON (none when nil) as user — with key as its
// Idempotency-Key unless key is empty — and decodes a 2xx answer into out
// (discarded when out is nil). Any other answer is a *StatusError, wrapped
// with the request. Over the caller's rate limit (429) it waits as long as
// Retry-After says and asks again, as a considerate client does.
func (c *Client) Do(ctx context.Context, method, url, user, key string, body, out any) error {
	for {
		err := c.do(ctx, method, url, user, key, body, out)
		var status *StatusError
		if !errors.As(err, &status) || status.Code != http.StatusTooManyRequests {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(status.RetryAfter):
		}
	}
}

func (c *Client) do(ctx context.Context, method, url, user, key string, body, out any) error {
	if err := Send(ctx, c.HTTP, method, url, c.tokens[user], key, body, out); err != nil {
		return fmt.Errorf("as %s: %w", user, err)
	}
	return nil
}

// Send is one request with a bearer token the caller holds (the console
// holds its users' tokens): body as JSON (none when nil), key as the
// Idempotency-Key unless empty, a 2xx answer decoded into out (discarded
// when out is nil), any other answer a *StatusError, wrapped with the
// request.
func Send(ctx context.Context, hc *http.Client, method, url, token, key string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set(idempotency.Header, key)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		start, _ := io.ReadAll(io.LimitReader(resp.Body, 1000))
		wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return fmt.Errorf("%s %s: %w", method, req.URL.Path,
			&StatusError{Code: resp.StatusCode, Body: string(bytes.TrimSpace(start)), RetryAfter: time.Duration(wait) * time.Second})
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
