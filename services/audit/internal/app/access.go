package app

import (
	"github.com/expenseflow/expenseflow/pkg/authz"
	"github.com/expenseflow/expenseflow/pkg/directory"
)

// Actions of the audit service: one per use case, the keys of Access.
const (
	SearchEvents = "audit.events"
	ReadFeed     = "audit.feed"
	VerifyChain  = "audit.verify"
)

// Access says who may read the log (docs/security.md, "Authorization"): auditors only. It holds every
// event of every service, so there is nothing an employee could "own" in it.
// (The approval service reads the feed to rebuild its projection with a token
// of its own in the auditor role.)
var Access = authz.Table{
	SearchEvents: auditors,
	ReadFeed:     auditors,
	VerifyChain:  auditors,
}

var auditors = authz.Rule{directory.RoleAuditor: authz.All}
