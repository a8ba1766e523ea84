package domain

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strconv"
	"time"
)

// Entry is a Record at its place in the log: what the hash chain covers.
type Entry struct {
	Seq        int64
	Record     Record
	ReceivedAt time.Time
}

// Link is an entry with the hashes stored beside it.
type Link struct {
	Entry
	PrevHash []byte // the previous entry's Hash; Genesis for seq 1
	Hash     []byte // SHA-256(PrevHash ‖ Canonical(Entry))
}

// Genesis is the PrevHash of the first entry.
var Genesis = make([]byte, sha256.Size)

// Canonical is the one byte encoding of an entry that its hash covers: every
// field, in a fixed order, as a netstring ("<length>:<bytes>,"). Length
// prefixes make it unambiguous — no choice of field contents can make two
// different entries encode alike — and times are UTC with microseconds, the
// precision PostgreSQL keeps, so an entry read back encodes as it was written.
func Canonical(e Entry) []byte {
	var b bytes.Buffer
	field := func(s string) { fmt.Fprintf(&b, "%d:%s,", len(s), s) }
	field("expenseflow-audit-v1")
	field(strconv.FormatInt(e.Seq, 10))
	field(e.Record.EventID)
	field(e.Record.Type)
	field(e.Record.Source)
	field(e.Record.Subject)
	field(e.Record.CorrelationID)
	field(e.Record.ExpenseID)
	field(Timestamp(e.Record.Time))
	field(Timestamp(e.ReceivedAt))
	field(string(e.Record.Envelope))
	return b.Bytes()
}

// Timestamp is how the chain writes a time: UTC, microseconds.
func Timestamp(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000Z")
}

// Chain computes the link for e after the entry whose hash is prev.
func Chain(prev []byte, e Entry) Link {
	h := sha256.New()
	h.Write(prev)
	h.Write(Canonical(e))
	return Link{Entry: e, PrevHash: prev, Hash: h.Sum(nil)}
}

// Break describes the first place where the stored chain does not hold.
type Break struct {
	Seq     int64
	EventID string
	Reason  string
}

// Checkpoint is the head of the log as someone saw it once: its seq and
// hash. The chain alone cannot show that its newest entries were deleted,
// or that everything was rewritten from some point with the hashes
// recomputed (the database holds all it takes); a checkpoint kept outside
// the audit database can: the log must still hold that entry, with that
// hash.
type Checkpoint struct {
	Seq  int64
	Hash []byte
}

// Verifier walks the log in seq order and finds the first broken link.
type Verifier struct {
	prev    []byte
	next    int64
	Checked int64
	Broken  *Break
	expect  map[int64][]byte // checkpoints not reached yet
}

// NewVerifier starts at the beginning of the log; the log must also match
// every checkpoint given.
func NewVerifier(checkpoints ...Checkpoint) *Verifier {
	v := &Verifier{prev: Genesis, next: 1, expect: map[int64][]byte{}}
	for _, c := range checkpoints {
		v.expect[c.Seq] = c.Hash
	}
	return v
}

// Head is the last entry verified so far: the checkpoint to keep outside
// the audit database for the next verification.
func (v *Verifier) Head() Checkpoint { return Checkpoint{Seq: v.next - 1, Hash: v.prev} }

// End is called after the last stored link: a checkpoint beyond the end of
// the log means entries were deleted.
func (v *Verifier) End() {
	if v.Broken != nil {
		return
	}
	for seq := range v.expect {
		if seq >= v.next && (v.Broken == nil || seq < v.Broken.Seq) {
			v.Broken = &Break{Seq: seq, Reason: fmt.Sprintf("a checkpoint saw seq %d, but the log ends at seq %d: entries were deleted", seq, v.next-1)}
		}
	}
}

// Check takes the next stored link and reports whether to go on (false once
// a break is found: everything after it is unverifiable).
func (v *Verifier) Check(l Link) bool {
	if v.Broken != nil {
		return false
	}
	v.Checked++
	broken := func(reason string) bool {
		v.Broken = &Break{Seq: l.Seq, EventID: l.Record.EventID, Reason: reason}
		return false
	}
	switch {
	case l.Seq != v.next:
		return broken(fmt.Sprintf("expected seq %d: an entry is missing or out of place", v.next))
	case !bytes.Equal(l.PrevHash, v.prev):
		return broken("prev_hash is not the previous entry's hash")
	case !bytes.Equal(l.Hash, Chain(v.prev, l.Entry).Hash):
		return broken("the entry's contents do not match its hash")
	}
	if want, ok := v.expect[l.Seq]; ok {
		if !bytes.Equal(l.Hash, want) {
			return broken("the hash differs from a checkpoint's: the log was rewritten up to here")
		}
		delete(v.expect, l.Seq)
	}
	v.prev, v.next = l.Hash, l.Seq+1
	return true
}
