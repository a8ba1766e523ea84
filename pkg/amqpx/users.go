package amqpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// User is one broker identity and what it may do in one vhost. Each service
// connects as its own user, named after it: the broker stamps that name on
// every message the service publishes (the user-id property, checked
// against the connection), and consumers check the stamp against the owner
// of the event type (events.CheckPublisher).
type User struct {
	Name string
	// Tags are RabbitMQ's user tags (management, monitoring, ...): what the
	// user may see and do in the management UI and API.
	Tags []string
	// Configure, Write and Read are RabbitMQ's permission regexes over
	// exchange and queue names. "^$" allows nothing.
	Configure, Write, Read string
	// Publish is a regex over the routing keys the user may publish to the
	// events exchange (a topic permission); "" when it publishes no events.
	Publish string
	// Bind is a regex over the routing keys the user may bind a queue to
	// on the events exchange with (a topic permission's read); "" when it
	// binds nothing: brokersetup binds, as an administrator, except for a
	// queue BoundByConsumer.
	Bind string
}

// TopicRule is the user's topic permission on the events exchange: what it
// may publish (write) and bind (read); ok is false when it needs none.
func (u User) TopicRule() (write, read string, ok bool) {
	if u.Publish == "" && u.Bind == "" {
		return "", "", false
	}
	write, read = u.Publish, u.Bind
	if write == "" {
		write = Nothing
	}
	if read == "" {
		read = Nothing
	}
	return write, read, true
}

// Nothing is the permission regex that matches no name.
const Nothing = "^$"

// OneOf is a permission regex matching exactly the given names.
func OneOf(names ...string) string {
	if len(names) == 0 {
		return Nothing
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	return "^(" + strings.Join(quoted, "|") + ")$"
}

// StartsWith is a permission regex matching every name that starts with
// one of the given prefixes.
func StartsWith(prefixes ...string) string {
	return strings.TrimSuffix(OneOf(prefixes...), "$")
}

// Management is a small client of the RabbitMQ management HTTP API, which
// is where users and permissions are made (AMQP itself cannot).
type Management struct {
	base   *url.URL
	client *http.Client
}

// NewManagement returns a client of the API at apiURL, e.g.
// http://guest:guest@localhost:15672 (an administrator's credentials).
func NewManagement(apiURL string) (*Management, error) {
	u, err := url.Parse(apiURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("management API URL %q: want http://user:password@host:15672", apiURL)
	}
	return &Management{base: u, client: &http.Client{Timeout: 30 * time.Second}}, nil
}

// Do sends body (JSON, unless nil) to path and decodes the answer into out
// (unless nil). A status of 300 or more is an error with the API's message.
func (m *Management) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, m.base.Scheme+"://"+m.base.Host+path, rd)
	if err != nil {
		return err
	}
	pass, _ := m.base.User.Password()
	req.SetBasicAuth(m.base.User.Username(), pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := m.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var err error = &APIError{Method: method, Path: path, Status: resp.Status, Code: resp.StatusCode, Message: string(bytes.TrimSpace(msg))}
		if resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
			err = Permanent(err) // refused, not unavailable: retrying cannot help
		}
		return err
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// Queue is what the management API reports about a queue.
type Queue struct {
	Name      string `json:"name"`
	Messages  int    `json:"messages"` // ready + unacknowledged
	Consumers int    `json:"consumers"`
}

// Queues lists the queues of vhost with their depth.
func (m *Management) Queues(ctx context.Context, vhost string) ([]Queue, error) {
	var qs []Queue
	err := m.Do(ctx, http.MethodGet, "/api/queues/"+url.PathEscape(vhost), nil, &qs)
	return qs, err
}

// ApplyUsers creates or updates each user (with the password that password
// returns for it) and sets its permissions in vhost to exactly what the
// table says: running it again changes nothing, and a permission removed
// from the table is removed from the broker.
func (m *Management) ApplyUsers(ctx context.Context, vhost string, users []User, password func(user string) string) error {
	for _, u := range users {
		account := map[string]any{"password": password(u.Name), "tags": strings.Join(u.Tags, ",")}
		if err := m.Do(ctx, http.MethodPut, "/api/users/"+url.PathEscape(u.Name), account, nil); err != nil {
			return fmt.Errorf("user %s: %w", u.Name, err)
		}
		perms := map[string]string{"configure": u.Configure, "write": u.Write, "read": u.Read}
		if err := m.Do(ctx, http.MethodPut, m.vhostPath("permissions", vhost, u.Name), perms, nil); err != nil {
			return fmt.Errorf("permissions of %s: %w", u.Name, err)
		}
		topic := m.vhostPath("topic-permissions", vhost, u.Name)
		write, read, ok := u.TopicRule()
		if !ok {
			// No events to publish and no queue to bind: no topic
			// permission is needed; drop an old one.
			if err := m.Do(ctx, http.MethodDelete, topic, nil, nil); err != nil && !IsNotFound(err) {
				return fmt.Errorf("topic permissions of %s: %w", u.Name, err)
			}
			continue
		}
		rule := map[string]string{"exchange": EventsExchange, "write": write, "read": read}
		if err := m.Do(ctx, http.MethodPut, topic, rule, nil); err != nil {
			return fmt.Errorf("topic permissions of %s: %w", u.Name, err)
		}
	}
	return nil
}

func (m *Management) vhostPath(kind, vhost, user string) string {
	return "/api/" + kind + "/" + url.PathEscape(vhost) + "/" + url.PathEscape(user)
}

// APIError is the management API's answer when it is not a success.
type APIError struct {
	Method, Path, Status string
	Code                 int
	Message              string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %s: %s", e.Method, e.Path, e.Status, e.Message)
}

// IsNotFound reports whether err is the management API answering 404.
func IsNotFound(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Code == http.StatusNotFound
}
