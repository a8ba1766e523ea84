package httpx

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/expenseflow/expenseflow/pkg/apperr"
)

// RateLimit gives each caller, as key names it, a token bucket of burst
// requests refilled at perSecond (golang.org/x/time/rate); a request beyond
// it is answered 429 with Retry-After, the seconds until a token is back.
// One runaway client then slows itself, not the service and everybody else.
// A bucket unused for idleAfter is forgotten (a full bucket is the state a
// new one starts in, so forgetting it changes nothing). perSecond 0 turns
// the limit off.
func RateLimit(perSecond float64, burst int, key func(*gin.Context) string) gin.HandlerFunc {
	if perSecond <= 0 {
		return func(c *gin.Context) { c.Next() }
	}
	l := &limiters{perSecond: rate.Limit(perSecond), burst: burst, buckets: map[string]*bucket{}}
	return func(c *gin.Context) {
		wait := l.reserve(key(c), time.Now())
		if wait > 0 {
			c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			WriteError(c, apperr.New(kindTooManyRequests, "too many requests; try again in %s", wait.Round(time.Millisecond)))
			return
		}
		c.Next()
	}
}

const idleAfter = 10 * time.Minute

type bucket struct {
	limiter  *rate.Limiter
	lastUsed time.Time
}

type limiters struct {
	perSecond rate.Limit
	burst     int
	mu        sync.Mutex
	buckets   map[string]*bucket
	swept     time.Time
}

// reserve takes a token for key if one is there, else says how long until
// one is (taking nothing: a refused request does not cost a later one).
func (l *limiters) reserve(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.lastUsed) > idleAfter {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{limiter: rate.NewLimiter(l.perSecond, l.burst)}
		l.buckets[key] = b
	}
	b.lastUsed = now
	r := b.limiter.ReserveN(now, 1)
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return wait
	}
	return 0
}
