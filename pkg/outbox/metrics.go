package outbox

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"
)

var (
	backlogDesc = prometheus.NewDesc("expenseflow_outbox_backlog_messages",
		"Committed outbox messages the relay has not published yet.", nil, nil)
	oldestDesc = prometheus.NewDesc("expenseflow_outbox_oldest_unrelayed_age_seconds",
		"Age of the oldest committed outbox message not published yet (0 when none).", nil, nil)
)

// backlogQuery counts the rows past the relay's offset, in the order the relay
// reads them (transaction id, then offset). Rows of transactions still open
// are not visible, so they are not counted either.
const backlogQuery = `
SELECT count(*), coalesce(extract(epoch FROM localtimestamp - min(o.created_at)), 0)
FROM watermill_outbox o
LEFT JOIN watermill_offsets_outbox f ON f.consumer_group = ?
WHERE f.consumer_group IS NULL
   OR (o.transaction_id, o."offset") > (f.last_processed_transaction_id, f.offset_acked)`

// BacklogCollector reports the relay's backlog when Prometheus scrapes: a
// growing backlog or an old oldest message means events are not leaving
// (broker down, relay stuck). It queries the database on each scrape.
type BacklogCollector struct{ db *gorm.DB }

// NewBacklogCollector returns the backlog collector for the outbox in db.
func NewBacklogCollector(db *gorm.DB) BacklogCollector { return BacklogCollector{db} }

func (c BacklogCollector) Describe(ch chan<- *prometheus.Desc) { ch <- backlogDesc; ch <- oldestDesc }

func (c BacklogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var count, age float64
	if err := c.db.WithContext(ctx).Raw(backlogQuery, relayGroup).Row().Scan(&count, &age); err != nil {
		return // /readyz reports the database; failing the whole scrape would hide every other series
	}
	ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, count)
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age)
}
