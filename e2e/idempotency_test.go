package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// TestKilledBetweenCommitAndResponse: approval is SIGKILLed while keyed
// submissions are in flight, so some commands commit and die before their
// response leaves. Then every request is sent again with its key, as a
// careful client does. Because the key, the claim, its event and the
// stored response commit in one transaction, each key answers 201 with the
// one claim it created: a command that had committed replays its response
// (never 409 "in progress"), one that had not runs now. Exactly one claim
// per key exists at the end.
func TestKilledBetweenCommitAndResponse(t *testing.T) {
	const n, workers = 240, 8
	s := startStack(t)
	url := s.procs["approval"].url + "/v1/expenses"
	token := testinfra.Token(t, "alice")
	body := func(i int) []byte {
		return fmt.Appendf(nil, `{"amount_minor":%d,"currency":"EUR","category":"meals","description":"lunch %d","incurred_on":%q}`,
			1000+i, i, time.Now().UTC().Format(time.DateOnly))
	}
	key := func(i int) string { return fmt.Sprintf("kill-%03d", i) }

	first := make([]string, n) // the body of the first answer, "" if none came
	var answered atomic.Int32
	var wg sync.WaitGroup
	next := atomic.Int32{}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if code, b, err := postKeyed(url, token, key(i), body(i)); err == nil && code == http.StatusCreated {
					first[i] = b
					answered.Add(1)
				}
			}
		}()
	}
	testinfra.Eventually(t, deadline, "a share of the submissions is answered", func() bool { return answered.Load() >= n/4 })
	s.Kill("approval") // SIGKILL: whatever is between commit and response stays there
	wg.Wait()
	s.Restart("approval")

	for i := range n {
		code, b, err := postKeyed(url, token, key(i), body(i))
		switch {
		case err != nil || code != http.StatusCreated:
			t.Errorf("key %s sent again: %d %s %v", key(i), code, b, err)
		case first[i] != "" && b != first[i]:
			t.Errorf("key %s: the replay differs from the first answer:\n%s\n%s", key(i), first[i], b)
		}
	}
	if got := countRows(t, s, "approval", "SELECT count(*) FROM expenses"); got != n {
		t.Errorf("%d claims for %d keys, want exactly one each", got, n)
	}
	t.Logf("%d of %d answered before the kill", answered.Load(), n)
}

// postKeyed POSTs body with an Idempotency-Key, as a client that handles
// lost connections itself (the test client fails the test on them), and
// waits when the caller's rate limit says so (429 with Retry-After).
func postKeyed(url, token, key string, body []byte) (int, string, error) {
	for {
		code, b, wait, err := postOnce(url, token, key, body)
		if code != http.StatusTooManyRequests {
			return code, b, err
		}
		time.Sleep(wait) // the server said how long
	}
}

func postOnce(url, token, key string, body []byte) (int, string, time.Duration, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return resp.StatusCode, string(b), time.Duration(wait) * time.Second, err
}
