package messaging_test

import (
	"testing"

	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/messaging"
)

// The queues and binding patterns declared here are the ones
// docs/asyncapi.yaml documents for this service, no more and no fewer.
func TestAsyncAPIDocumentsSubscriptions(t *testing.T) {
	testinfra.LoadAsyncAPI(t).RequireSubscriptions(t, "webhooks", messaging.Subscriptions)
}
