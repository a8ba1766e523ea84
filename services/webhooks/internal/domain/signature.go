package domain

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks 1.0 (https://www.standardwebhooks.com): the headers of
// every message. The id is the event's id, the same on every attempt, so a
// receiver drops a retry of something it already accepted.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Sign returns the webhook-signature header of a message: for each secret,
// "v1," and the base64 HMAC-SHA256 of "id.timestamp.body" under the
// secret's key, separated by spaces. A receiver accepts the message if any
// one verifies, which is what lets a rotation overlap.
//
// The timestamp is the attempt's (a retry is signed anew), and the body is
// hashed byte for byte: the receiver must verify the raw body before it
// parses anything.
func Sign(secrets []string, id string, at time.Time, body []byte) string {
	signed := make([]byte, 0, len(id)+len(body)+12)
	signed = append(signed, id...)
	signed = append(signed, '.')
	signed = strconv.AppendInt(signed, at.Unix(), 10)
	signed = append(signed, '.')
	signed = append(signed, body...)
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, secretPrefix))
		if err != nil {
			continue // every secret is made by NewSecret; a broken one signs nothing
		}
		mac := hmac.New(sha256.New, key)
		mac.Write(signed)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " ")
}
