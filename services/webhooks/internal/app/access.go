package app

import (
	"github.com/expenseflow/expenseflow/pkg/authz"
	"github.com/expenseflow/expenseflow/pkg/directory"
)

// Actions of the webhooks service: one per use case, the keys of Access.
const (
	CreateEndpoint  = "webhooks.endpoints.create"
	ListEndpoints   = "webhooks.endpoints.list"
	ReadEndpoint    = "webhooks.endpoints.read"
	DeleteEndpoint  = "webhooks.endpoints.delete"
	RotateSecret    = "webhooks.endpoints.rotate-secret"
	EnableEndpoint  = "webhooks.endpoints.enable"
	ListDeliveries  = "webhooks.deliveries.list"
	ReadDelivery    = "webhooks.deliveries.read"
	RedeliverAction = "webhooks.deliveries.redeliver"
)

// Access says who may do what (docs/security.md, "Authorization"): the
// endpoints send the company's claims to other systems, so finance alone
// manages them; auditors may look (never at a secret: it is shown only to
// finance, once, when made or rotated).
var (
	financeOnly      = authz.Rule{directory.RoleFinance: authz.All}
	financeOrAuditor = authz.Rule{directory.RoleFinance: authz.All, directory.RoleAuditor: authz.All}

	Access = authz.Table{
		CreateEndpoint:  financeOnly,
		ListEndpoints:   financeOrAuditor,
		ReadEndpoint:    financeOrAuditor,
		DeleteEndpoint:  financeOnly,
		RotateSecret:    financeOnly,
		EnableEndpoint:  financeOnly,
		ListDeliveries:  financeOrAuditor,
		ReadDelivery:    financeOrAuditor,
		RedeliverAction: financeOnly,
	}
)
