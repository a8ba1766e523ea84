package app

import (
	"context"
	"time"

	"github.com/expenseflow/expenseflow/pkg/correlation"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/services/accounting/internal/domain"
)

// Postings commute: no entry depends on an earlier one and balances are
// sums, so whatever order the events arrive in (a payment before the
// approval it settles, say), the journal ends in the same state. That is why
// these handlers need no sequence check, only the inbox against duplicates.

// PostApproval books an approved expense (domain.ForApproval), once per key.
func (a *App) PostApproval(ctx context.Context, key inbox.Key, p events.ExpenseApprovedV1) error {
	amount := domain.Money{AmountMinor: p.AmountMinor, Currency: p.Currency}
	e, err := domain.ForApproval(a.posting(key, p.ExpenseID), p.EmployeeID, p.Category, amount)
	if err != nil {
		return err
	}
	return a.post(ctx, key, e)
}

// PostSettlement books a paid reimbursement (domain.ForSettlement), once per key.
func (a *App) PostSettlement(ctx context.Context, key inbox.Key, p events.ReimbursementPaidV1) error {
	amount := domain.Money{AmountMinor: p.AmountMinor, Currency: p.Currency}
	e, err := domain.ForSettlement(a.posting(key, p.ExpenseID), p.EmployeeID, amount)
	if err != nil {
		return err
	}
	return a.post(ctx, key, e)
}

// PostVoidEntry answers the void orchestrator's command: the entry that
// takes a claim's approval back, a reversal (nothing was paid) or a
// recovery (it was), once per claim. The ledger.entry_posted event of that
// kind is the reply; it carries the void's correlation id.
func (a *App) PostVoidEntry(ctx context.Context, key inbox.Key, c events.PostVoidEntryV1) error {
	amount := domain.Money{AmountMinor: c.AmountMinor, Currency: c.Currency}
	posting := a.posting(key, c.ExpenseID)
	var e domain.Entry
	var err error
	if c.Kind == events.EntryKindRecovery {
		e, err = domain.ForRecovery(posting, c.EmployeeID, c.Category, amount)
	} else {
		e, err = domain.ForReversal(posting, c.EmployeeID, c.Category, amount)
	}
	if err != nil {
		return err
	}
	return a.post(ctx, key, e)
}

// posting identifies a new entry. Its time is cut to microseconds, the
// precision PostgreSQL keeps, so the event and the stored entry agree exactly.
func (a *App) posting(key inbox.Key, expenseID string) domain.Posting {
	postedAt := a.now().UTC().Truncate(time.Microsecond)
	return domain.Posting{ID: a.newID(), ExpenseID: expenseID, SourceEventID: key.EventID, PostedAt: postedAt}
}

// post stores e with the event that announces it; the journal commits both
// and the inbox record together.
func (a *App) post(ctx context.Context, key inbox.Key, e domain.Entry) error {
	p := events.LedgerEntryPostedV1{EntryID: e.ID, ExpenseID: e.ExpenseID, Kind: string(e.Kind), PostedAt: e.PostedAt}
	for _, l := range e.Lines() {
		p.Lines = append(p.Lines, events.LedgerLine{
			Account: l.Account, DebitMinor: l.DebitMinor, CreditMinor: l.CreditMinor, Currency: l.Currency,
		})
	}
	// An entry never changes, so the one event about it is its version 1.
	ev, err := events.New(p, correlation.Stamp(ctx, events.Meta{
		ID: a.newID(), Source: events.SourceAccounting, Time: e.PostedAt, Sequence: 1,
	}))
	if err != nil {
		return err
	}
	return a.journal.Post(ctx, key, e, ev)
}
