package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// TestAbsurdApprovalIsDeadLetteredEverywhere: an expense.approved.v1 for
// 9,223,372,036,854,775,000 in currency XYZ, approved by the employee
// herself, reaches every consumer. None acts on it: each dead-letters it
// with the reason (it breaks the contract's bounds, which every consumer
// re-checks), nothing is booked or paid, and the next honest approval in
// that currency is booked as usual (before, the forged amount overflowed
// every later sum in its currency and blocked accounting).
func TestAbsurdApprovalIsDeadLetteredEverywhere(t *testing.T) {
	s := startStack(t)
	subscribeToEverything(t, s)
	id := uuid.NewString()
	body := fmt.Appendf(nil, `{"specversion":"1.0","id":%q,"type":"expense.approved.v1","source":"approval",`+
		`"subject":%q,"time":%q,"datacontenttype":"application/json","correlationid":"forged","sequence":"0000000000000000002",`+
		`"data":{"expense_id":%q,"employee_id":"alice","approver_id":"alice","amount_minor":9223372036854775000,`+
		`"currency":"XYZ","category":"travel","approved_at":%q}}`, id, id, time.Now().UTC().Format(time.RFC3339), id, time.Now().UTC().Format(time.RFC3339))
	testinfra.Publish(t, s.AMQPURL, "expense.approved.v1", id, body)

	consumers := []string{"approval", "accounting", "reimbursement", "notification", "webhooks"}
	reasons := map[string]string{}
	testinfra.Eventually(t, deadline, "every consumer of approvals dead-letters it", func() bool {
		for _, svc := range consumers {
			for _, d := range testinfra.DeadLetters(t, s.AMQPURL, svc) {
				reasons[svc] = fmt.Sprint(d.Headers[amqpx.DeadLetterReasonKey])
			}
		}
		return len(reasons) == len(consumers)
	})
	for svc, reason := range reasons {
		if !strings.Contains(reason, "amount_minor") || !strings.Contains(reason, "currency") || !strings.Contains(reason, "approver_id") {
			t.Errorf("%s dead-lettered it saying %q, want every broken rule named", svc, reason)
		}
	}

	e := submit(t, s, "erin", 4200)
	approve(t, s, "frank", e.ID)
	testinfra.Eventually(t, deadline, "an honest approval is still booked and scheduled", func() bool {
		return len(list[ledgerEntry](t, s.Client("accounting"), "/v1/ledger/entries?expense_id="+e.ID, "carol")) == 1 &&
			countRows(t, s, "reimbursement", "SELECT count(*) FROM reimbursements") == 1
	})
	if n := countRows(t, s, "accounting", fmt.Sprintf("SELECT count(*) FROM journal_entries WHERE expense_id = '%s'", id)); n != 0 {
		t.Errorf("the absurd approval was booked (%d entries)", n)
	}
}
