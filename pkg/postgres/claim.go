package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// ClaimNext claims the first row of table that matches where (with args)
// and holds no live claim at now, taking rows in order; the claim lasts
// until until. The claim lives in the row (columns claim_token and
// claimed_until) and commits at once, so that whoever holds it can then
// work, call a payment gateway or an SMTP server, with no transaction open.
// FOR UPDATE SKIP LOCKED lets concurrent claimers pass over each other's
// candidates instead of queueing behind them. The claimed row is scanned
// into dest (a pointer to a slice of the table's row type); the token
// returned ("" when no row matched) is what settling or releasing the
// claim must name.
func ClaimNext(ctx context.Context, db *gorm.DB, dest any, table, where, order string, now, until time.Time, args ...any) (string, error) {
	token := uuid.NewString()
	query := `UPDATE ` + table + ` SET claim_token = ?, claimed_until = ?
		WHERE id = (
			SELECT id FROM ` + table + `
			WHERE (` + where + `) AND (claimed_until IS NULL OR claimed_until < ?)
			ORDER BY ` + order + `
			LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING *`
	res := db.WithContext(ctx).Raw(query, append(append([]any{token, until}, args...), now)...).Scan(dest)
	if res.Error != nil || res.RowsAffected == 0 {
		return "", res.Error
	}
	return token, nil
}
