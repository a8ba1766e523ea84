// Package postgres is the webhooks service's persistence: endpoints, the
// events they receive, deliveries with their schedule and claims, and every
// attempt. Locks are always taken endpoint first, then delivery.
package postgres

import (
	"context"
	"embed"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/pkg/outbox"
	"github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/app"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/domain"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the webhooks schema.
var Migrations = postgres.EmbeddedMigrations("webhooks", migrationFiles, "migrations")

// Store is the webhooks store (app.Store).
type Store struct {
	db *gorm.DB
	// binding is held by the one caller of this process that waits for, or
	// holds, the bindings lock: the others wait here, without a database
	// connection, so that waiting callers cannot take the whole pool while
	// the holder needs a connection to finish.
	binding chan struct{}
}

// NewStore returns the store on db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db, binding: make(chan struct{}, 1)} }

type endpointRow struct {
	ID             string `gorm:"primaryKey"`
	URL            string
	EventTypes     []string `gorm:"serializer:json"`
	Description    string
	Status         string
	DisabledReason string
	FailedInARow   int
	TimesDisabled  int
	Secret         string
	PreviousSecret string
	PreviousUntil  *time.Time
	CreatedBy      string
	CreatedAt      time.Time
}

func (endpointRow) TableName() string { return "webhook_endpoints" }

type messageRow struct {
	EventID   string `gorm:"primaryKey"`
	EventType string
	Body      []byte
}

func (messageRow) TableName() string { return "webhook_messages" }

type deliveryRow struct {
	ID             string `gorm:"primaryKey"`
	EndpointID     string
	EventID        string
	EventType      string
	Status         string
	Attempts       int
	LastStatusCode int
	LastError      string
	NextAttemptAt  time.Time
	DeliveredAt    *time.Time
	CreatedAt      time.Time
	ClaimToken     string
	ClaimedUntil   *time.Time
}

func (deliveryRow) TableName() string { return "webhook_deliveries" }

type attemptRow struct {
	ID          int64 `gorm:"primaryKey;<-:false"`
	DeliveryID  string
	AttemptedAt time.Time
	StatusCode  int
	Error       string
	DurationMs  int
}

func (attemptRow) TableName() string { return "webhook_attempts" }

func toDelivery(r deliveryRow) domain.Delivery {
	return domain.Delivery{ID: r.ID, EndpointID: r.EndpointID, EventID: r.EventID, EventType: r.EventType,
		Status: r.Status, Attempts: r.Attempts, LastStatusCode: r.LastStatusCode, LastError: r.LastError,
		NextAttemptAt: r.NextAttemptAt, DeliveredAt: r.DeliveredAt, CreatedAt: r.CreatedAt}
}

// fromDelivery is the row of d, without a claim.
func fromDelivery(d domain.Delivery) deliveryRow {
	return deliveryRow{ID: d.ID, EndpointID: d.EndpointID, EventID: d.EventID, EventType: d.EventType,
		Status: d.Status, Attempts: d.Attempts, LastStatusCode: d.LastStatusCode, LastError: d.LastError,
		NextAttemptAt: d.NextAttemptAt, DeliveredAt: d.DeliveredAt, CreatedAt: d.CreatedAt}
}

// CreateEndpoint inserts e.
func (s *Store) CreateEndpoint(ctx context.Context, e *domain.Endpoint) error {
	r := endpointRow(*e)
	return postgres.Conn(ctx, s.db).Create(&r).Error
}

// Endpoints lists every endpoint, oldest first.
func (s *Store) Endpoints(ctx context.Context) ([]domain.Endpoint, error) {
	var rows []endpointRow
	if err := postgres.Conn(ctx, s.db).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]domain.Endpoint, len(rows))
	for i, r := range rows {
		out[i] = domain.Endpoint(r)
	}
	return out, nil
}

// Endpoint returns one endpoint, or NotFound.
func (s *Store) Endpoint(ctx context.Context, id string) (*domain.Endpoint, error) {
	return s.endpoint(postgres.Conn(ctx, s.db), id)
}

func (s *Store) endpoint(q *gorm.DB, id string) (*domain.Endpoint, error) {
	var r endpointRow
	err := q.Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.New(apperr.NotFound, "webhook endpoint %s not found", id)
	}
	if err != nil {
		return nil, err
	}
	e := domain.Endpoint(r)
	return &e, nil
}

// UpdateEndpoint runs change under the endpoint's row lock and saves it.
// If change enabled it, the deliveries that failed only because it was
// disabled are due again now.
func (s *Store) UpdateEndpoint(ctx context.Context, id string, change func(*domain.Endpoint) error) (*domain.Endpoint, error) {
	var e *domain.Endpoint
	err := postgres.Transaction(ctx, s.db, func(tx *gorm.DB) error {
		var err error
		if e, err = s.endpoint(tx.Clauses(clause.Locking{Strength: "UPDATE"}), id); err != nil {
			return err
		}
		wasEnabled := e.Status == domain.EndpointEnabled
		if err := change(e); err != nil {
			return err
		}
		if err := tx.Save(new(endpointRow(*e))).Error; err != nil {
			return err
		}
		if wasEnabled || e.Status != domain.EndpointEnabled {
			return nil
		}
		return tx.Model(&deliveryRow{}).
			Where("endpoint_id = ? AND status = ? AND last_error = ?", id, domain.DeliveryFailed, domain.FailedBecauseDisabled).
			Updates(map[string]any{"status": domain.DeliveryPending, "attempts": 0, "last_error": "", "next_attempt_at": time.Now()}).Error
	})
	return e, err
}

// DeleteEndpoint deletes an endpoint; its deliveries and their attempts go
// with it (ON DELETE CASCADE).
func (s *Store) DeleteEndpoint(ctx context.Context, id string) error {
	res := postgres.Conn(ctx, s.db).Where("id = ?", id).Delete(&endpointRow{})
	if res.Error == nil && res.RowsAffected == 0 {
		return apperr.New(apperr.NotFound, "webhook endpoint %s not found", id)
	}
	return res.Error
}

// Accept stores the event and its deliveries with the inbox record. The
// endpoints are read with a share lock: an endpoint being enabled at this
// moment is enabled either before (its delivery is pending) or after (its
// delivery failed-because-disabled is among those enabling sends).
//
// Most events interest no endpoint (there may be none at all): for those a
// plain read finds nothing to record, and no transaction is opened — every
// event of every flow passes through here, and a commit for nothing would
// cost each of them a round trip and a WAL flush.
func (s *Store) Accept(ctx context.Context, key inbox.Key, m app.Message, plan func([]domain.Endpoint) []domain.Delivery) error {
	endpoints, err := s.Endpoints(ctx)
	if err != nil {
		return err
	}
	if len(plan(endpoints)) == 0 {
		return nil
	}
	return inbox.Once(ctx, s.db, key, func(tx *gorm.DB) error {
		var rows []endpointRow
		if err := tx.Clauses(clause.Locking{Strength: "SHARE"}).Order("id").Find(&rows).Error; err != nil {
			return err
		}
		endpoints := make([]domain.Endpoint, len(rows))
		for i, r := range rows {
			endpoints[i] = domain.Endpoint(r)
		}
		ds := plan(endpoints)
		if len(ds) == 0 {
			return nil // nobody subscribes: nothing to keep
		}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).
			Create(&messageRow{EventID: m.EventID, EventType: m.EventType, Body: m.Body}).Error; err != nil {
			return err
		}
		rs := make([]deliveryRow, len(ds))
		for i, d := range ds {
			rs[i] = fromDelivery(d)
		}
		return tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&rs).Error
	})
}

// Deliveries lists an endpoint's deliveries, newest first (keyset by id).
func (s *Store) Deliveries(ctx context.Context, endpointID, status string, n int, beforeID string) ([]domain.Delivery, error) {
	q := postgres.Conn(ctx, s.db).Where("endpoint_id = ?", endpointID).Order("id DESC").Limit(n)
	if status != "" {
		q = q.Where("status = ?", status)
	}
	if beforeID != "" {
		q = q.Where("id < ?", beforeID)
	}
	var rows []deliveryRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]domain.Delivery, len(rows))
	for i, r := range rows {
		out[i] = toDelivery(r)
	}
	return out, nil
}

// Delivery returns one delivery and its attempts.
func (s *Store) Delivery(ctx context.Context, id string) (*domain.Delivery, []domain.Attempt, error) {
	q := postgres.Conn(ctx, s.db)
	d, err := s.delivery(q, id)
	if err != nil {
		return nil, nil, err
	}
	var rows []attemptRow
	if err := q.Where("delivery_id = ?", id).Order("id").Find(&rows).Error; err != nil {
		return nil, nil, err
	}
	attempts := make([]domain.Attempt, len(rows))
	for i, r := range rows {
		attempts[i] = domain.Attempt{DeliveryID: r.DeliveryID, At: r.AttemptedAt, StatusCode: r.StatusCode,
			Error: r.Error, Duration: time.Duration(r.DurationMs) * time.Millisecond}
	}
	return d, attempts, nil
}

func (s *Store) delivery(q *gorm.DB, id string) (*domain.Delivery, error) {
	var r deliveryRow
	err := q.Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.New(apperr.NotFound, "webhook delivery %s not found", id)
	}
	if err != nil {
		return nil, err
	}
	d := toDelivery(r)
	return &d, nil
}

// locked loads a delivery and its endpoint under row locks, endpoint first
// (the order every writer here takes them in).
func (s *Store) locked(tx *gorm.DB, deliveryID, claim string) (*domain.Delivery, *domain.Endpoint, error) {
	forUpdate := clause.Locking{Strength: "UPDATE"}
	var endpointID string
	if err := tx.Model(&deliveryRow{}).Where("id = ?", deliveryID).Pluck("endpoint_id", &endpointID).Error; err != nil {
		return nil, nil, err
	}
	if endpointID == "" {
		return nil, nil, apperr.New(apperr.NotFound, "webhook delivery %s not found", deliveryID)
	}
	e, err := s.endpoint(tx.Clauses(forUpdate), endpointID)
	if err != nil {
		return nil, nil, err
	}
	q := tx.Clauses(forUpdate)
	if claim != "" {
		q = q.Where("claim_token = ?", claim)
	}
	d, err := s.delivery(q, deliveryID)
	return d, e, err
}

// Redeliver runs change on a delivery and its endpoint, locked, and saves
// the delivery.
func (s *Store) Redeliver(ctx context.Context, id string, change func(*domain.Delivery, *domain.Endpoint) error) (*domain.Delivery, error) {
	var d *domain.Delivery
	err := postgres.Transaction(ctx, s.db, func(tx *gorm.DB) error {
		var (
			e   *domain.Endpoint
			err error
		)
		if d, e, err = s.locked(tx, id, ""); err != nil {
			return err
		}
		if err := change(d, e); err != nil {
			return err
		}
		return saveDelivery(tx, d)
	})
	return d, err
}

func saveDelivery(tx *gorm.DB, d *domain.Delivery) error {
	return tx.Model(&deliveryRow{}).Where("id = ?", d.ID).Updates(map[string]any{
		"status": d.Status, "attempts": d.Attempts, "last_status_code": d.LastStatusCode, "last_error": d.LastError,
		"next_attempt_at": d.NextAttemptAt, "delivered_at": d.DeliveredAt, "claim_token": "", "claimed_until": nil,
	}).Error
}

// ClaimNext claims the longest-due pending delivery of an enabled endpoint
// not in skip, and returns it with its endpoint and body.
func (s *Store) ClaimNext(ctx context.Context, now, until time.Time, skip []string) (*app.Work, error) {
	where := "status = ? AND next_attempt_at <= ? AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE status = ?)"
	args := []any{domain.DeliveryPending, now, domain.EndpointEnabled}
	if len(skip) > 0 {
		where += " AND endpoint_id NOT IN ?"
		args = append(args, skip)
	}
	var claimed []deliveryRow
	claim, err := postgres.ClaimNext(ctx, s.db, &claimed, "webhook_deliveries", where, "next_attempt_at, id", now, until, args...)
	if err != nil || claim == "" {
		return nil, err
	}
	w := &app.Work{Claim: claim, Delivery: toDelivery(claimed[0])}
	q := s.db.WithContext(ctx)
	e, err := s.endpoint(q, w.Delivery.EndpointID)
	if err != nil {
		return nil, err // deleted meanwhile: its deliveries went with it
	}
	w.Endpoint = *e
	var m messageRow
	if err := q.Where("event_id = ?", w.Delivery.EventID).Take(&m).Error; err != nil {
		return nil, err
	}
	w.Body = m.Body
	return w, nil
}

// Record saves an attempt and its consequences, if claim still holds the
// delivery: the delivery, the attempt, the endpoint, the events apply
// returns (into the outbox, in this transaction) and — if the endpoint was
// just disabled — its other pending deliveries, failed for that reason.
func (s *Store) Record(ctx context.Context, claim string, a domain.Attempt, apply func(*domain.Delivery, *domain.Endpoint) ([]events.Envelope, error)) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		d, e, err := s.locked(tx, a.DeliveryID, claim)
		if errors.Is(err, apperr.New(apperr.NotFound, "")) {
			return nil // the claim expired and another run took over, or the endpoint was deleted
		}
		if err != nil {
			return err
		}
		wasEnabled := e.Status == domain.EndpointEnabled
		evs, err := apply(d, e)
		if err != nil {
			return err
		}
		if err := outbox.Publish(ctx, tx, evs...); err != nil {
			return err
		}
		if err := saveDelivery(tx, d); err != nil {
			return err
		}
		if err := tx.Create(&attemptRow{DeliveryID: d.ID, AttemptedAt: a.At, StatusCode: a.StatusCode,
			Error: a.Error, DurationMs: int(a.Duration.Milliseconds())}).Error; err != nil {
			return err
		}
		if err := tx.Save(new(endpointRow(*e))).Error; err != nil {
			return err
		}
		if !wasEnabled || e.Status == domain.EndpointEnabled {
			return nil
		}
		return tx.Model(&deliveryRow{}).Where("endpoint_id = ? AND status = ?", e.ID, domain.DeliveryPending).
			// Claims end too: an attempt in flight records nothing, and
			// enabling the endpoint sends its delivery again.
			Updates(map[string]any{"status": domain.DeliveryFailed, "last_error": domain.FailedBecauseDisabled,
				"claim_token": "", "claimed_until": nil}).Error
	})
}

// bindingsLock is the advisory lock key under which the queue's bindings
// change (any number: it only has to be the same in every instance).
const bindingsLock = 8086_0001

// LockBindings takes the lock under which the queue's bindings change, on a
// connection of its own, and returns its release. A session lock, not a
// transaction: it is held while the broker is asked to bind or unbind, and
// no transaction may stay open across a call (it would hold back every
// outbox relay on the server); the lock holds back only another change of
// bindings.
func (s *Store) LockBindings(ctx context.Context) (release func(), err error) {
	select {
	case s.binding <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	unlocked := func() { <-s.binding }
	sqlDB, err := s.db.DB()
	if err != nil {
		unlocked()
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		unlocked()
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, bindingsLock); err != nil {
		_ = conn.Close()
		unlocked()
		return nil, err
	}
	return func() {
		// Unlock even if ctx has ended; closing the session would too.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, bindingsLock)
		_ = conn.Close()
		unlocked()
	}, nil
}

// Bound lists the patterns the queue is bound to, as recorded.
func (s *Store) Bound(ctx context.Context) ([]string, error) {
	var patterns []string
	err := postgres.Conn(ctx, s.db).Raw(`SELECT pattern FROM webhook_bindings ORDER BY pattern`).Scan(&patterns).Error
	return patterns, err
}

// RecordBound records that the queue is now bound to added and no longer
// to removed.
func (s *Store) RecordBound(ctx context.Context, added, removed []string) error {
	return postgres.Transaction(ctx, s.db, func(tx *gorm.DB) error {
		for _, p := range added {
			if err := tx.Exec(`INSERT INTO webhook_bindings (pattern) VALUES (?) ON CONFLICT DO NOTHING`, p).Error; err != nil {
				return err
			}
		}
		if len(removed) == 0 {
			return nil
		}
		return tx.Exec(`DELETE FROM webhook_bindings WHERE pattern IN ?`, removed).Error
	})
}
