package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/httpx"
	"github.com/expenseflow/expenseflow/services/console/internal/backend"
)

// heartbeat keeps proxies from closing a quiet stream, and tells the
// console soon that a browser has gone.
const heartbeat = 15 * time.Second

// events is GET /events?expense_id=: a text/event-stream with one message
// per event on the bus about that claim (event: its type, id: its id,
// data: its envelope), from the moment the stream opens. It is a live
// view, not a log: a browser that reconnects gets what is published from
// then on and re-reads the claim for what it missed (the claim page does).
func (c *Console) events(g *gin.Context) {
	id := g.Query("expense_id")
	if id == "" {
		httpx.WriteError(g, apperr.Fields([]apperr.FieldError{{Field: "expense_id", Message: "is required"}}))
		return
	}
	// The user sees the events of claims approval shows them, and no others.
	if _, err := c.Backend.Expense(g.Request.Context(), token(g), id, 0); err != nil {
		if backend.Status(err) == http.StatusNotFound {
			httpx.WriteError(g, apperr.New(apperr.NotFound, "expense %s not found", id))
		} else {
			httpx.WriteError(g, apperr.New(apperr.Unavailable, "approval did not answer: %s", err.Error()))
		}
		return
	}
	msgs, stop := c.Feed.Watch(id)
	defer stop()

	// A stream outlives the server's WriteTimeout, which bounds ordinary
	// answers: lift it for this one.
	rc := http.NewResponseController(g.Writer)
	_ = rc.SetWriteDeadline(time.Time{})
	g.Header("Content-Type", "text/event-stream")
	g.Header("Cache-Control", "no-store")
	g.Header("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	g.Status(http.StatusOK)
	// retry: how long a browser waits before reconnecting.
	fmt.Fprint(g.Writer, "retry: 2000\n: watching "+id+"\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-g.Request.Context().Done():
			return
		case <-tick.C:
			fmt.Fprint(g.Writer, ": still here\n\n")
		case m := <-msgs:
			var one bytes.Buffer // data: must be one line
			if err := json.Compact(&one, m.Envelope); err != nil {
				continue
			}
			var env struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(one.Bytes(), &env)
			fmt.Fprintf(g.Writer, "id: %s\nevent: %s\ndata: %s\n\n", env.ID, m.Type, one.Bytes())
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
