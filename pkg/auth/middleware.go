package auth

import (
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/expenseflow/expenseflow/pkg/apperr"
)

const principalKey = "expenseflow.principal"

// Middleware rejects a request without a valid bearer token (the error is
// left on the gin context for the problem writer) and stores the principal.
// onError writes the error response; pkg/httpx passes its problem writer.
func (v *Verifier) Middleware(onError func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		token, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok {
			onError(c, apperr.New(apperr.Unauthorized, "a valid bearer token is required"))
			c.Abort()
			return
		}
		p, err := v.Verify(strings.TrimSpace(token))
		if err != nil {
			onError(c, err)
			c.Abort()
			return
		}
		c.Set(principalKey, p)
		c.Next()
	}
}

// PrincipalOf returns the caller authenticated by Middleware.
func PrincipalOf(c *gin.Context) Principal {
	p, _ := c.Get(principalKey)
	principal, _ := p.(Principal)
	return principal
}
