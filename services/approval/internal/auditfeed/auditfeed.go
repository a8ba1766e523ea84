// Package auditfeed reads the audit service's ordered event feed over HTTP:
// the archive of every event ever published, from which the approval
// projection can be rebuilt.
package auditfeed

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/expenseflow/expenseflow/pkg/events"
)

// Client reads GET /v1/audit/feed with an auditor's token.
type Client struct {
	base  string
	token string
	http  *http.Client
	log   *slog.Logger
}

// New returns a feed client for the audit service at baseURL.
func New(baseURL, token string, log *slog.Logger) *Client {
	return &Client{base: baseURL, token: token, http: &http.Client{Timeout: 30 * time.Second}, log: log}
}

// Read returns up to limit events after position after, in feed order, and
// the position to resume from. Entries this build cannot decode (a type or
// version it does not know) are skipped with a warning: the live consumer
// dead-lettered them too, so the projection never saw them either.
func (c *Client) Read(ctx context.Context, after int64, limit int) ([]events.Event, int64, error) {
	q := url.Values{"after": {strconv.FormatInt(after, 10)}, "limit": {strconv.Itoa(limit)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/audit/feed?"+q.Encode(), nil)
	if err != nil {
		return nil, after, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, after, fmt.Errorf("audit feed: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, after, fmt.Errorf("audit feed: %s", resp.Status)
	}
	var page struct {
		Items     []json.RawMessage `json:"items"`
		NextAfter int64             `json:"next_after"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return nil, after, fmt.Errorf("audit feed: %w", err)
	}
	out := make([]events.Event, 0, len(page.Items))
	for _, item := range page.Items {
		e, err := events.Decode(item) // the feed's extra fields (seq, received_at) are ignored
		if err != nil {
			c.log.WarnContext(ctx, "skipping an archived event this build cannot decode", "error", err)
			continue
		}
		out = append(out, e)
	}
	return out, page.NextAfter, nil
}
