package domain_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/services/audit/internal/domain"
)

func entry(seq int64, id string) domain.Entry {
	return domain.Entry{Seq: seq, ReceivedAt: time.Date(2026, 11, 22, 15, 0, 0, 123456789, time.UTC), Record: domain.Record{
		EventID: id, Type: "expense.submitted.v1", Source: "approval", Subject: "e-1", CorrelationID: "c-1", ExpenseID: "e-1",
		Time: time.Date(2026, 11, 22, 14, 59, 0, 0, time.UTC), Envelope: []byte(`{"id":"` + id + `"}`),
	}}
}

func chainOf(n int) []domain.Link {
	prev := domain.Genesis
	var links []domain.Link
	for i := 1; i <= n; i++ {
		l := domain.Chain(prev, entry(int64(i), "ev-"+string(rune('a'+i))))
		links = append(links, l)
		prev = l.Hash
	}
	return links
}

func verify(links []domain.Link) *domain.Verifier {
	v := domain.NewVerifier()
	for _, l := range links {
		if !v.Check(l) {
			break
		}
	}
	return v
}

func TestIntactChainVerifies(t *testing.T) {
	v := verify(chainOf(5))
	if v.Broken != nil || v.Checked != 5 {
		t.Fatalf("checked %d, broken %+v", v.Checked, v.Broken)
	}
}

func TestTamperingIsFoundAtTheRightEntry(t *testing.T) {
	cases := []struct {
		name   string
		tamper func([]domain.Link) []domain.Link
		seq    int64
	}{
		{"changed body", func(l []domain.Link) []domain.Link { l[2].Record.Envelope = []byte(`{"id":"forged"}`); return l }, 3},
		{"changed subject", func(l []domain.Link) []domain.Link { l[1].Record.Subject = "e-2"; return l }, 2},
		{"changed receive time", func(l []domain.Link) []domain.Link { l[3].ReceivedAt = l[3].ReceivedAt.Add(time.Second); return l }, 4},
		{"recomputed hash, chain broken after it", func(l []domain.Link) []domain.Link {
			l[1].Record.Subject = "e-2"
			l[1] = domain.Chain(l[1].PrevHash, l[1].Entry) // a forger fixes the entry's own hash…
			return l                                       // …but the next entry still points at the old one
		}, 3},
		{"deleted entry", func(l []domain.Link) []domain.Link { return append(l[:2:2], l[3:]...) }, 4},
		{"swapped entries", func(l []domain.Link) []domain.Link { l[1], l[2] = l[2], l[1]; return l }, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := verify(tc.tamper(chainOf(5)))
			if v.Broken == nil || v.Broken.Seq != tc.seq {
				t.Fatalf("want the break at seq %d, got %+v", tc.seq, v.Broken)
			}
		})
	}
}

// Length prefixes keep field boundaries: moving bytes from one field to the
// next changes the encoding.
func TestCanonicalIsUnambiguous(t *testing.T) {
	a, b := entry(1, "x"), entry(1, "x")
	a.Record.Source, a.Record.Subject = "ab", "c"
	b.Record.Source, b.Record.Subject = "a", "bc"
	if bytes.Equal(domain.Canonical(a), domain.Canonical(b)) {
		t.Fatal("two different entries encode alike")
	}
}

// A time read back from PostgreSQL (microseconds) encodes as it was written.
func TestCanonicalSurvivesMicrosecondStorage(t *testing.T) {
	e := entry(1, "x")
	stored := e
	stored.ReceivedAt = e.ReceivedAt.Truncate(time.Microsecond).In(time.FixedZone("CET", 3600))
	if !bytes.Equal(domain.Canonical(e), domain.Canonical(stored)) {
		t.Fatal("the encoding depends on sub-microsecond digits or the time zone")
	}
}
