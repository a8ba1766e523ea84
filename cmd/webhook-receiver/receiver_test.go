package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

var (
	keyA    = []byte("0123456789abcdef0123456789abcdef")
	keyB    = []byte("fedcba9876543210fedcba9876543210")
	secretA = "whsec_" + base64.StdEncoding.EncodeToString(keyA)
	secretB = "whsec_" + base64.StdEncoding.EncodeToString(keyB)
)

// sign is Standard Webhooks 1.0 written out from the specification, not
// the library: v1 = base64(HMAC-SHA256(key, id "." timestamp "." body)).
// Agreeing with the reference library's verifier proves the two read the
// specification alike.
func sign(key []byte, id string, at time.Time, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(at.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func post(t *testing.T, r *receiver, id string, at time.Time, body []byte, signatures ...string) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set(standardwebhooks.HeaderWebhookID, id)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, strings.Join(signatures, " "))
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w.Code
}

func TestTheReceiverAcceptsWhatASenderSignedOnceAndNothingElse(t *testing.T) {
	var got []delivery
	r, err := newReceiver([]string{secretA}, time.Now, func(d delivery) { got = append(got, d) })
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"expense.approved.v1","data":{"expense_id":"e-1"}}`)
	now := time.Now()

	// Signed by the specification (independent of the library): accepted.
	if code := post(t, r, "msg_1", now, body, sign(keyA, "msg_1", now, body)); code != http.StatusNoContent {
		t.Fatalf("a valid delivery: %d", code)
	}
	// Signed by the reference library: accepted too (interoperability).
	lib, _ := standardwebhooks.NewWebhook(secretA)
	libSig, err := lib.Sign("msg_2", now, body)
	if err != nil {
		t.Fatal(err)
	}
	if libSig != sign(keyA, "msg_2", now, body) {
		t.Fatalf("the library signs %q, the specification gives %q", libSig, sign(keyA, "msg_2", now, body))
	}
	if code := post(t, r, "msg_2", now, body, libSig); code != http.StatusNoContent {
		t.Fatalf("a library-signed delivery: %d", code)
	}
	// The same webhook-id again (the sender's retry): acknowledged, not acted on.
	if code := post(t, r, "msg_1", now, body, sign(keyA, "msg_1", now, body)); code != http.StatusNoContent {
		t.Fatalf("a retried delivery: %d", code)
	}
	if len(got) != 2 || got[0].ID != "msg_1" || got[0].Type != "expense.approved.v1" || got[1].ID != "msg_2" {
		t.Fatalf("handled %+v, want msg_1 and msg_2 once each", got)
	}

	tampered := bytes.Replace(body, []byte("e-1"), []byte("e-2"), 1)
	for name, code := range map[string]int{
		"a tampered body":       post(t, r, "msg_3", now, tampered, sign(keyA, "msg_3", now, body)),
		"another secret":        post(t, r, "msg_4", now, body, sign(keyB, "msg_4", now, body)),
		"an old timestamp":      post(t, r, "msg_5", now.Add(-6*time.Minute), body, sign(keyA, "msg_5", now.Add(-6*time.Minute), body)),
		"a timestamp too early": post(t, r, "msg_6", now.Add(6*time.Minute), body, sign(keyA, "msg_6", now.Add(6*time.Minute), body)),
		"no signature":          post(t, r, "msg_7", now, body),
	} {
		if code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
	if len(got) != 2 {
		t.Fatalf("a refused delivery was handled: %+v", got)
	}
}

// During a rotation the sender signs with the old and the new secret; a
// receiver holding either accepts it.
func TestARotationSignsTwice(t *testing.T) {
	body := []byte(`{"type":"reimbursement.paid.v1"}`)
	now := time.Now()
	both := []string{sign(keyA, "msg_r", now, body), sign(keyB, "msg_r", now, body)}
	for _, secrets := range [][]string{{secretA}, {secretB}, {secretB, secretA}} {
		r, err := newReceiver(secrets, time.Now, func(delivery) {})
		if err != nil {
			t.Fatal(err)
		}
		if code := post(t, r, "msg_r", now, body, both...); code != http.StatusNoContent {
			t.Errorf("a receiver holding %d secret(s): %d", len(secrets), code)
		}
	}
	if _, err := newReceiver([]string{""}, time.Now, func(delivery) {}); err == nil {
		t.Error("a receiver without a secret started")
	}
}
