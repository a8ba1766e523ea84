package domain_test

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/services/audit/internal/domain"
)

// FuzzCanonical checks the property the hash chain rests on: the canonical
// encoding is unambiguous. Decoding it back (netstring by netstring) must
// give exactly the fields that went in, whatever bytes they contain — so two
// different entries can never encode, and hash, alike.
func FuzzCanonical(f *testing.F) {
	f.Add(int64(1), "ev-1", "expense.submitted.v2", "approval", "e-1", "c-1", "e-1", []byte(`{"id":"ev-1"}`), int64(0))
	f.Add(int64(42), "", "", "", "", "", "", []byte{}, int64(-1))
	f.Add(int64(7), "1:a,", "2:bb,", ",", ":", "0:,", "9", []byte("12:"), int64(1<<40))
	f.Fuzz(func(t *testing.T, seq int64, id, typ, source, subject, corr, expense string, body []byte, nanos int64) {
		at := time.Unix(0, nanos).UTC()
		e := domain.Entry{Seq: seq, ReceivedAt: at, Record: domain.Record{
			EventID: id, Type: typ, Source: source, Subject: subject, CorrelationID: corr, ExpenseID: expense,
			Time: at, Envelope: body,
		}}
		fields, ok := netstrings(domain.Canonical(e))
		want := []string{"expenseflow-audit-v1", strconv.FormatInt(seq, 10), id, typ, source, subject, corr, expense,
			domain.Timestamp(at), domain.Timestamp(at), string(body)}
		if !ok || len(fields) != len(want) {
			t.Fatalf("the encoding does not parse back into %d fields: %q", len(want), domain.Canonical(e))
		}
		for i := range want {
			if fields[i] != want[i] {
				t.Fatalf("field %d: encoded %q, parsed back %q", i, want[i], fields[i])
			}
		}
	})
}

// netstrings parses "<len>:<bytes>," repeated, to the end.
func netstrings(b []byte) ([]string, bool) {
	var out []string
	for len(b) > 0 {
		colon := bytes.IndexByte(b, ':')
		if colon < 1 {
			return nil, false
		}
		n, err := strconv.Atoi(string(b[:colon]))
		if err != nil || n < 0 || colon+1+n >= len(b) {
			return nil, false
		}
		if b[colon+1+n] != ',' {
			return nil, false
		}
		out = append(out, string(b[colon+1:colon+1+n]))
		b = b[colon+2+n:]
	}
	return out, true
}
