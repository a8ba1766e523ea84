// Package httpapi is the audit service's REST edge: searching the log,
// reading it as an ordered feed and verifying its hash chain (for auditors:
// see app.Access). Errors go to httpx.WriteError, which turns them into
// problem+json.
package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/httpx"
	"github.com/expenseflow/expenseflow/services/audit/internal/app"
	"github.com/expenseflow/expenseflow/services/audit/internal/domain"
)

// Register mounts the audit routes on api (the authenticated /v1 group),
// each with the action of app.Access its use case checks.
func Register(api *httpx.Routes, a *app.App) {
	h := handlers{app: a}
	api.Handle(http.MethodGet, "/audit/events", app.SearchEvents, h.events)
	api.Handle(http.MethodGet, "/audit/feed", app.ReadFeed, h.feed)
	api.Handle(http.MethodGet, "/audit/verify", app.VerifyChain, h.verify)
}

type handlers struct{ app *app.App }

// entry is a stored event as clients see it: the envelope's own attributes
// (id, type, source, subject, time, correlationid, causationid, sequence,
// data, …, whatever the producer sent) plus seq, received_at and hash: its
// link in the chain, which anyone holding the entries can check.
type entry app.Stored

func (e entry) MarshalJSON() ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(e.Envelope, &fields); err != nil {
		return nil, err
	}
	fields["seq"], _ = json.Marshal(e.Seq)
	fields["received_at"], _ = json.Marshal(e.ReceivedAt)
	fields["hash"], _ = json.Marshal(hex.EncodeToString(e.Hash))
	return json.Marshal(fields)
}

func (h handlers) events(c *gin.Context) {
	limit, after, err := httpx.ListParams[int64](c)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	var afterSeq int64
	if after != nil {
		afterSeq = *after
	}
	q := app.Query{
		Subject: c.Query("subject"), ExpenseID: c.Query("expense_id"),
		CorrelationID: c.Query("correlation_id"), Type: c.Query("type"),
		From: c.Query("from"), To: c.Query("to"),
	}
	stored, err := h.app.Events(c.Request.Context(), auth.PrincipalOf(c), q, limit, afterSeq)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, httpx.NewPage(entries(stored), limit, func(e entry) int64 { return e.Seq }))
}

// feedPage is a page of the feed. The feed is an endless stream rather than
// a finite list, so instead of a cursor it always says where to resume:
// pass next_after as ?after= (an empty page means "caught up, poll later").
type feedPage struct {
	Items     []entry `json:"items"`
	NextAfter int64   `json:"next_after"`
}

func (h handlers) feed(c *gin.Context) {
	limit, _, err := httpx.ListParams[int64](c) // the feed pages by ?after=, not ?cursor=
	var after int64
	if s := c.Query("after"); s != "" && err == nil {
		if after, err = strconv.ParseInt(s, 10, 64); err != nil || after < 0 {
			err = apperr.Fields([]apperr.FieldError{{Field: "after", Message: "must be a seq, a non-negative integer"}})
		}
	}
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	stored, err := h.app.Feed(c.Request.Context(), auth.PrincipalOf(c), after, limit)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	page := feedPage{Items: entries(stored), NextAfter: after}
	if n := len(stored); n > 0 {
		page.NextAfter = stored[n-1].Seq
	}
	c.JSON(http.StatusOK, page)
}

func entries(stored []app.Stored) []entry {
	out := make([]entry, len(stored))
	for i, s := range stored {
		out[i] = entry(s)
	}
	return out
}

// verifyResponse says whether the hash chain holds and, if not, where it
// first breaks: everything from there on can no longer be trusted.
type verifyResponse struct {
	OK          bool        `json:"ok"`
	Checked     int64       `json:"checked"`
	FirstBroken *brokenLink `json:"first_broken,omitempty"`
	Head        checkpoint  `json:"head"`
}

// checkpoint is written "<seq>:<hash in hex>", in responses and in
// ?checkpoint=, so an auditor can paste back what a verify answered.
type checkpoint struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

func parseCheckpoints(values []string) ([]domain.Checkpoint, error) {
	var out []domain.Checkpoint
	for _, v := range values {
		seqText, hashText, ok := strings.Cut(v, ":")
		seq, err := strconv.ParseInt(seqText, 10, 64)
		hash, hexErr := hex.DecodeString(hashText)
		if !ok || err != nil || seq < 1 || hexErr != nil || len(hash) != sha256.Size {
			return nil, apperr.Fields([]apperr.FieldError{{Field: "checkpoint", Message: "must be <seq>:<sha-256 in hex>, as a verify answered in head"}})
		}
		out = append(out, domain.Checkpoint{Seq: seq, Hash: hash})
	}
	return out, nil
}

type brokenLink struct {
	Seq     int64  `json:"seq"`
	EventID string `json:"event_id"`
	Reason  string `json:"reason"`
}

func (h handlers) verify(c *gin.Context) {
	checkpoints, err := parseCheckpoints(c.QueryArray("checkpoint"))
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	v, err := h.app.Verify(c.Request.Context(), auth.PrincipalOf(c), checkpoints...)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	out := verifyResponse{OK: v.Broken == nil, Checked: v.Checked,
		Head: checkpoint{Seq: v.Head.Seq, Hash: hex.EncodeToString(v.Head.Hash)}}
	if v.Broken != nil {
		out.FirstBroken = &brokenLink{Seq: v.Broken.Seq, EventID: v.Broken.EventID, Reason: v.Broken.Reason}
	}
	c.JSON(http.StatusOK, out)
}
