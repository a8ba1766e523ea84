#!/usr/bin/env bash
# The domain of each service is pure: it may import the standard library,
# pkg/apperr and the pure packages pkg/events, pkg/directory and pkg/retry, nothing else of ours and no infrastructure (gin, gorm, watermill,
# amqp...). This keeps business rules testable without any server.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for pkg in $(go list ./services/... | grep "/internal/domain"); do
  for dep in $(go list -f '{{join .Imports "\n"}}' "$pkg"); do
    case "$dep" in
      github.com/expenseflow/expenseflow/pkg/apperr) ;;
      github.com/expenseflow/expenseflow/pkg/events) ;;    # the contract: plain structs
      github.com/expenseflow/expenseflow/pkg/directory) ;; # who is who: plain data
      github.com/expenseflow/expenseflow/pkg/retry) ;;     # arithmetic of a retry schedule
      *.*/*) echo "layering: $pkg imports $dep"; status=1 ;;
    esac
  done
done
exit $status
