package postgres

import (
	"context"

	"gorm.io/gorm"
)

type txKey struct{}

// WithTx returns a context that carries tx: a store given that context
// works inside tx instead of opening a transaction of its own. The
// Idempotency-Key middleware uses it so that the key, the command's state
// change, its events and the stored response commit together
// (docs/adr/0013-idempotency-in-the-command-transaction.md).
func WithTx(ctx context.Context, tx *gorm.DB) context.Context {
	return context.WithValue(ctx, txKey{}, tx)
}

// Conn is db, or the transaction ctx carries, bound to ctx: what a store
// runs a single statement on.
func Conn(ctx context.Context, db *gorm.DB) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx.WithContext(ctx)
	}
	return db.WithContext(ctx)
}

// Transaction runs fn in the transaction ctx carries, or else in a new
// transaction on db that commits when fn returns nil. Inside a carried
// transaction an error from fn is returned and the owner of the transaction
// rolls it back: fn never commits half of a command.
func Transaction(ctx context.Context, db *gorm.DB, fn func(tx *gorm.DB) error) error {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return fn(tx.WithContext(ctx))
	}
	return db.WithContext(ctx).Transaction(fn)
}
