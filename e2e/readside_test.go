package e2e

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// TestReadYourWritesAndRebuild checks the approval read side from the
// outside: a client reads its own write at once with ?min_version, a version
// that never comes is answered stale after the bound, and the read model
// rebuilt from the audit feed equals the live one row for row.
func TestReadYourWritesAndRebuild(t *testing.T) {
	s := startStack(t)
	approval := s.Client("approval")

	// Expenses in every state the read model knows.
	paid, rejected, withdrawn, approved, submitted :=
		submit(t, s, "alice", 1200), submit(t, s, "erin", 3400), submit(t, s, "alice", 560), submit(t, s, "erin", 7800), submit(t, s, "alice", 90)
	decided := approve(t, s, "bob", paid.ID)
	var got expense
	r := approval.Call("GET", "/v1/expenses/"+paid.ID+"?min_version=2", "alice", nil, &got)
	if r.StatusCode != http.StatusOK || got.Status != "approved" || got.Version != decided.Version || r.Header.Get("X-Projection-Stale") != "" {
		t.Fatalf("right after approving, ?min_version=2 answered %d %+v (stale=%q)", r.StatusCode, got, r.Header.Get("X-Projection-Stale"))
	}
	start := time.Now()
	r = approval.Call("GET", "/v1/expenses/"+submitted.ID+"?min_version=9", "alice", nil, &got)
	if r.Header.Get("X-Projection-Stale") != "true" || got.Version != 1 || time.Since(start) < 2*time.Second {
		t.Fatalf("a version that never comes: want the current state marked stale after the 2 s bound, got %+v stale=%q after %s",
			got, r.Header.Get("X-Projection-Stale"), time.Since(start))
	}

	approval.Call("POST", "/v1/expenses/"+rejected.ID+"/reject", "frank", map[string]string{"reason": "no receipt"}, nil)
	approval.Call("POST", "/v1/expenses/"+withdrawn.ID+"/withdraw", "alice", nil, nil)
	approve(t, s, "frank", approved.ID)
	testinfra.Eventually(t, deadline, "both approvals are scheduled for payment", func() bool {
		return len(list[reimbursement](t, s.Client("reimbursement"), "/v1/reimbursements", "carol")) == 2
	})
	payout(t, s)
	testinfra.Eventually(t, deadline, "the first claim shows as paid", func() bool {
		approval.Call("GET", "/v1/expenses/"+paid.ID, "alice", nil, &got)
		return got.Status == "paid"
	})
	s.WaitQuiet()

	views := s.DB("approval")
	dump := func() []string {
		rows, err := views.Query(`SELECT row_to_json(v)::text FROM expense_views v ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var row string
			if err := rows.Scan(&row); err != nil {
				t.Fatal(err)
			}
			out = append(out, row)
		}
		return out
	}
	live := dump()
	if len(live) != 5 {
		t.Fatalf("the live read model has %d rows, want 5", len(live))
	}
	t.Log(s.RunCommand("approval", "rebuild-projection"))
	if rebuilt := dump(); !reflect.DeepEqual(rebuilt, live) {
		t.Fatalf("the rebuilt read model differs:\nlive    %v\nrebuilt %v", live, rebuilt)
	}

	// The live projection carries on after a rebuild, and nothing is applied twice.
	approval.Call("POST", "/v1/expenses/"+submitted.ID+"/approve", "bob", nil, nil)
	testinfra.Eventually(t, deadline, "the live projection still works after the rebuild", func() bool {
		approval.Call("GET", "/v1/expenses/"+submitted.ID, "alice", nil, &got)
		return got.Status == "approved" && got.Version == 2
	})
}
