package events

import (
	"errors"
	"time"
)

// Ledger entry kinds: what caused the posting.
const (
	EntryKindApproval   = "approval"   // expense approved: debit expense, credit payable
	EntryKindSettlement = "settlement" // reimbursement paid: debit payable, credit cash
)

// LedgerEntryPostedV1: accounting posted a balanced journal entry.
type LedgerEntryPostedV1 struct {
	EntryID   string       `json:"entry_id"`
	ExpenseID string       `json:"expense_id"`
	Kind      string       `json:"kind"`
	Lines     []LedgerLine `json:"lines"`
	PostedAt  time.Time    `json:"posted_at"`
}

// LedgerLine is one side of a posting; exactly one of debit and credit is non-zero.
type LedgerLine struct {
	Account     string `json:"account"`
	DebitMinor  int64  `json:"debit_minor"`
	CreditMinor int64  `json:"credit_minor"`
	Currency    string `json:"currency"`
}

func (LedgerEntryPostedV1) EventType() string   { return LedgerEntryPostedV1Type }
func (p LedgerEntryPostedV1) SubjectID() string { return p.EntryID }

func (p LedgerEntryPostedV1) Validate() error {
	if err := check(id("entry_id", p.EntryID), id("expense_id", p.ExpenseID), required("kind", p.Kind)); err != nil {
		return err
	}
	if len(p.Lines) < 2 {
		return errors.New("lines: an entry has at least two lines")
	}
	var debits, credits int64
	for _, l := range p.Lines {
		if err := money(l.DebitMinor+l.CreditMinor, l.Currency); err != nil {
			return err
		}
		debits += l.DebitMinor
		credits += l.CreditMinor
	}
	if debits != credits {
		return errors.New("lines: debits and credits differ")
	}
	return nil
}
