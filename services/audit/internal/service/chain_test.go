package service_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/audit/internal/service"
)

type verification struct {
	OK      bool  `json:"ok"`
	Checked int64 `json:"checked"`
	Head    struct {
		Seq  int64  `json:"seq"`
		Hash string `json:"hash"`
	} `json:"head"`
	FirstBroken *struct {
		Seq     int64  `json:"seq"`
		EventID string `json:"event_id"`
		Reason  string `json:"reason"`
	} `json:"first_broken"`
}

func (a audit) verify(checkpoints ...string) verification {
	a.T.Helper()
	var v verification
	query := ""
	for i, c := range checkpoints {
		query += map[bool]string{true: "?", false: "&"}[i == 0] + "checkpoint=" + c
	}
	if r := a.Call("GET", "/v1/audit/verify"+query, "dave", nil, &v); r.StatusCode != http.StatusOK {
		a.T.Fatalf("verify: %d", r.StatusCode)
	}
	return v
}

// Someone with superuser rights switches the append-only trigger off and
// edits one row: the chain names that row as the first broken link.
func TestVerifyFindsATamperedRow(t *testing.T) {
	a := startAudit(t)
	all := story(t, a)
	if v := a.verify(); !v.OK || v.Checked != int64(len(all)) {
		t.Fatalf("an untouched log: %+v", v)
	}
	// The row of the payout's scheduling, wherever the log put it: events
	// that arrive together are logged in the order their consumers reach
	// the writer, not necessarily the order they were published in.
	scheduled := all[2]
	var seq int64
	if err := a.db.Raw("SELECT seq FROM audit_events WHERE event_id = ?", scheduled).Scan(&seq).Error; err != nil || seq == 0 {
		t.Fatalf("the scheduling's seq: %d %v", seq, err)
	}
	err := a.db.Transaction(func(tx *gorm.DB) error {
		// session_replication_role = replica skips ordinary triggers: the
		// guard is a fence for honest clients, the chain is for the rest.
		if err := tx.Exec("SET LOCAL session_replication_role = replica").Error; err != nil {
			return err
		}
		return tx.Exec(`UPDATE audit_events SET envelope = convert_to(replace(convert_from(envelope, 'UTF8'), '4250', '9999'), 'UTF8') WHERE seq = ?`, seq).Error
	})
	if err != nil {
		t.Fatalf("tampering as superuser: %v", err)
	}
	v := a.verify()
	if v.OK || v.FirstBroken == nil || v.FirstBroken.Seq != seq || v.FirstBroken.EventID != scheduled || v.Checked != seq {
		t.Fatalf("want the break named at seq %d (%s), got %+v", seq, scheduled, v)
	}
}

// The chain cannot see its newest entries deleted, nor a rewrite from some
// entry on with every later hash recomputed: whoever writes the database
// can do both. A checkpoint kept outside it can: the head a verify answered
// must still be there, with that hash.
func TestCheckpointsCatchTruncationAndRewrite(t *testing.T) {
	a := startAudit(t)
	story(t, a)
	head := a.verify().Head
	checkpoint := strconv.FormatInt(head.Seq, 10) + ":" + head.Hash
	if v := a.verify(checkpoint); !v.OK || v.Head != head {
		t.Fatalf("an untouched log against its own checkpoint: %+v", v)
	}

	asSuperuser := func(stmt string) {
		t.Helper()
		err := a.db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec("SET LOCAL session_replication_role = replica").Error; err != nil {
				return err
			}
			return tx.Exec(stmt).Error
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The newest entry deleted: the chain that is left holds.
	asSuperuser(fmt.Sprintf("DELETE FROM audit_events WHERE seq = %d", head.Seq))
	if v := a.verify(); !v.OK {
		t.Fatalf("a truncated log still verifies on its own, as expected: %+v", v)
	}
	v := a.verify(checkpoint)
	if v.OK || v.FirstBroken == nil || v.FirstBroken.Seq != head.Seq || !strings.Contains(v.FirstBroken.Reason, "deleted") {
		t.Fatalf("truncation against the checkpoint: %+v", v)
	}

	// Rewritten: the last remaining entry replaced by a copy whose hash is
	// recomputed, so the chain holds again, but no longer the checkpoint's.
	last := head.Seq - 1
	asSuperuser(fmt.Sprintf("DELETE FROM audit_events WHERE seq = %d", last))
	var before verification
	if before = a.verify(); !before.OK || before.Head.Seq != last-1 {
		t.Fatalf("after deleting two: %+v", before)
	}
	ckpt := strconv.FormatInt(last-1, 10) + ":" + before.Head.Hash
	testinfra.PublishEvent(t, a.amqpURL, event(t, events.ExpenseWithdrawnV1{ExpenseID: "00000000-0000-4000-8000-00000000e009", EmployeeID: "erin", WithdrawnAt: base}, "c-9", 30))
	testinfra.Eventually(t, 10*time.Second, "the new event is appended", func() bool { return a.verify().Checked == last })
	asSuperuser(fmt.Sprintf("DELETE FROM audit_events WHERE seq >= %d", last-1))
	testinfra.PublishEvent(t, a.amqpURL, event(t, events.ExpenseWithdrawnV1{ExpenseID: "00000000-0000-4000-8000-00000000e008", EmployeeID: "erin", WithdrawnAt: base}, "c-8", 31))
	testinfra.Eventually(t, 10*time.Second, "a forged entry takes the place", func() bool { return a.verify().Checked == last-1 })
	if v := a.verify(); !v.OK {
		t.Fatalf("the rewritten chain holds on its own: %+v", v)
	}
	v = a.verify(ckpt)
	if v.OK || v.FirstBroken == nil || v.FirstBroken.Seq != last-1 || !strings.Contains(v.FirstBroken.Reason, "rewritten") {
		t.Fatalf("the rewrite against the checkpoint: %+v", v)
	}
	if r := a.Call("GET", "/v1/audit/verify?checkpoint=nonsense", "dave", nil, nil); r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a malformed checkpoint: %d, want 422", r.StatusCode)
	}
}

// The service writes the log's head to its own log on a timer: a
// checkpoint that leaves for a log pipeline the audit database cannot
// touch, and that verify accepts as it is.
func TestCheckpointsAreWrittenToTheServiceLog(t *testing.T) {
	pc, _ := testinfra.PlatformConfig(t, "audit")
	logs := &testinfra.Logs{}
	pc.LogOutput = logs
	p, err := service.New(context.Background(), service.Config{Config: pc, CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a := audit{Client: testinfra.Client{T: t, Base: testinfra.Run(t, p), Contract: contract(t)}, amqpURL: pc.AMQPURL, db: p.DB}
	story(t, a)
	head := a.verify().Head
	want := fmt.Sprintf("%d:%s", head.Seq, head.Hash)
	testinfra.Eventually(t, 10*time.Second, "the head is logged as a checkpoint", func() bool {
		return strings.Contains(logs.String(), `"checkpoint":"`+want+`"`)
	})
	if v := a.verify(want); !v.OK {
		t.Fatalf("verify with the logged checkpoint: %+v", v)
	}
}

// A reader pages through the feed with small pages while events keep
// arriving, and gets every event exactly once, in order, with no gaps.
func TestFeedWhileEventsArrive(t *testing.T) {
	const n = 300
	a := startAudit(t)
	// Publishing and reading interleave: a batch goes out, a page comes in,
	// while the service appends concurrently in between.
	var published []string
	publish := func() {
		var bodies [][]byte
		for range 10 {
			env := event(t, events.ExpenseWithdrawnV1{ExpenseID: fmt.Sprintf("00000000-0000-4000-8000-%012d", len(published)), EmployeeID: "erin", WithdrawnAt: base}, "c-feed", 0)
			body, _ := events.Encode(env)
			bodies = append(bodies, body)
			published = append(published, env.ID)
		}
		testinfra.Publish(t, a.amqpURL, events.ExpenseWithdrawnV1Type, "", bodies...)
	}

	seen := map[string]bool{}
	var after int64
	deadline := time.Now().Add(time.Minute)
	for len(seen) < n {
		if len(published) < n {
			publish()
		}
		if time.Now().After(deadline) {
			t.Fatalf("read %d of %d events before the deadline", len(seen), n)
		}
		p := a.get("/v1/audit/feed?limit=7&after=" + strconv.FormatInt(after, 10))
		for _, it := range p.Items {
			if it.Seq != after+1 {
				t.Fatalf("after seq %d came %d: a gap or a step back", after, it.Seq)
			}
			if seen[it.ID] {
				t.Fatalf("event %s delivered twice by the feed", it.ID)
			}
			seen[it.ID] = true
			after = it.Seq
		}
		if p.NextAfter == nil || *p.NextAfter != after {
			t.Fatalf("next_after %v, want %d", p.NextAfter, after)
		}
	}
	for _, id := range published {
		if !seen[id] {
			t.Fatalf("published event %s never came out of the feed", id)
		}
	}
	if v := a.verify(); !v.OK || v.Checked != n {
		t.Fatalf("the chain after %d concurrent appends: %+v", n, v)
	}
}
