package domain

import "github.com/expenseflow/expenseflow/pkg/retry"

// RetryPolicy decides what follows a failed payment attempt (see pkg/retry).
type RetryPolicy = retry.Policy
