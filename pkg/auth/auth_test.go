package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/directory"
	"github.com/expenseflow/expenseflow/pkg/httpx"
)

var cfg = auth.Config{Secret: "0123456789abcdef0123456789abcdef-test", Issuer: "expenseflow", Audience: "expenseflow"}

// claims are those of a valid token for alice; each case spoils one thing.
func claims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub": "alice", "role": "employee", "name": "Alice", "iss": "expenseflow", "aud": "expenseflow",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func sign(t *testing.T, m jwt.SigningMethod, c jwt.MapClaims, key any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyRejectsEveryForgery(t *testing.T) {
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte(cfg.Secret)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	with := func(key string, value any) jwt.MapClaims {
		c := claims()
		if value == nil {
			delete(c, key)
		} else {
			c[key] = value
		}
		return c
	}
	valid := sign(t, jwt.SigningMethodHS256, claims(), secret)
	escalated := sign(t, jwt.SigningMethodHS256, with("role", "finance"), secret)
	header, _, validSig := cutToken(valid)
	_, escalatedPayload, _ := cutToken(escalated)

	cases := map[string]string{
		"alg none":                          sign(t, jwt.SigningMethodNone, claims(), jwt.UnsafeAllowNoneSignatureType),
		"wrong secret":                      sign(t, jwt.SigningMethodHS256, claims(), []byte("another-secret-another-secret-123")),
		"payload swapped under a signature": header + "." + escalatedPayload + "." + validSig,
		"expired":                           sign(t, jwt.SigningMethodHS256, with("exp", time.Now().Add(-time.Minute).Unix()), secret),
		"no exp":                            sign(t, jwt.SigningMethodHS256, with("exp", nil), secret),
		"wrong audience":                    sign(t, jwt.SigningMethodHS256, with("aud", "someone-else"), secret),
		"no audience":                       sign(t, jwt.SigningMethodHS256, with("aud", nil), secret),
		"wrong issuer":                      sign(t, jwt.SigningMethodHS256, with("iss", "evil"), secret),
		"not valid yet":                     sign(t, jwt.SigningMethodHS256, with("nbf", time.Now().Add(time.Hour).Unix()), secret),
		"issued in the future":              sign(t, jwt.SigningMethodHS256, with("iat", time.Now().Add(time.Hour).Unix()), secret),
		"no subject":                        sign(t, jwt.SigningMethodHS256, with("sub", nil), secret),
		"no role":                           sign(t, jwt.SigningMethodHS256, with("role", nil), secret),
		"HS384 with the same secret":        sign(t, jwt.SigningMethodHS384, claims(), secret),
		"HS512 with the same secret":        sign(t, jwt.SigningMethodHS512, claims(), secret),
		"RS256":                             sign(t, jwt.SigningMethodRS256, claims(), rsaKey),
		"garbage":                           "not.a.token",
		"empty":                             "",
	}
	for name, token := range cases {
		t.Run(name, func(t *testing.T) {
			if p, err := v.Verify(token); apperr.KindOf(err) != apperr.Unauthorized {
				t.Fatalf("accepted (%+v) or wrong error: %v", p, err)
			}
		})
	}
	if p, err := v.Verify(valid); err != nil || p != (auth.Principal{UserID: "alice", Role: "employee", Name: "Alice"}) {
		t.Fatalf("the valid token: %+v, %v", p, err)
	}
	// Within the tolerated clock skew a just-expired token still passes.
	if _, err := v.Verify(sign(t, jwt.SigningMethodHS256, with("exp", time.Now().Add(-10*time.Second).Unix()), secret)); err != nil {
		t.Fatalf("within the leeway: %v", err)
	}
}

func TestMintedTokensVerify(t *testing.T) {
	v, _ := auth.NewVerifier(cfg)
	u := directory.User{ID: "carol", Name: "Carol", Role: directory.RoleFinance}
	token, err := auth.Mint(cfg, u, time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := v.Verify(token); err != nil || p.UserID != "carol" || p.Role != directory.RoleFinance {
		t.Fatalf("%+v, %v", p, err)
	}
	if _, err := auth.NewVerifier(auth.Config{Secret: "short", Issuer: "expenseflow", Audience: "expenseflow"}); err == nil {
		t.Fatal("a short secret was accepted")
	}
	other := cfg
	other.Audience = "another-app"
	token, _ = auth.Mint(other, u, time.Now(), time.Minute)
	if _, err := v.Verify(token); err == nil {
		t.Fatal("a token for another audience was accepted")
	}
}

// The middleware answers 401 with a problem document and a Bearer challenge
// (RFC 6750) to a missing or bad token, and lets a good one through.
func TestMiddleware(t *testing.T) {
	v, _ := auth.NewVerifier(cfg)
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/v1/x", v.Middleware(httpx.WriteError), func(c *gin.Context) { c.String(http.StatusOK, auth.PrincipalOf(c).UserID) })

	good, _ := auth.Mint(cfg, directory.User{ID: "alice", Role: directory.RoleEmployee}, time.Now(), time.Minute)
	expired, _ := auth.Mint(cfg, directory.User{ID: "alice", Role: directory.RoleEmployee}, time.Now().Add(-time.Hour), time.Minute)
	for name, header := range map[string]string{
		"none":         "",
		"not bearer":   "Basic YWxpY2U6cGFzcw==",
		"bearer empty": "Bearer ",
		"expired":      "Bearer " + expired,
		"alg none":     "Bearer " + sign(t, jwt.SigningMethodNone, claims(), jwt.UnsafeAllowNoneSignatureType),
	} {
		t.Run(name, func(t *testing.T) {
			w := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/v1/x", nil)
			if header != "" {
				req.Header.Set("Authorization", header)
			}
			r.ServeHTTP(w, req)
			if w.Code != http.StatusUnauthorized || w.Header().Get("Content-Type") != "application/problem+json" ||
				w.Header().Get("WWW-Authenticate") != `Bearer realm="expenseflow"` {
				t.Fatalf("got %d %q %q: %s", w.Code, w.Header().Get("Content-Type"), w.Header().Get("WWW-Authenticate"), w.Body)
			}
		})
	}
	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/v1/x", nil)
	req.Header.Set("Authorization", "Bearer "+good)
	r.ServeHTTP(w, req)
	if w.Code != http.StatusOK || w.Body.String() != "alice" {
		t.Fatalf("a good token: %d %s", w.Code, w.Body)
	}
}

// cutToken splits a compact JWT into header, payload and signature.
func cutToken(s string) (header, payload, signature string) {
	parts := strings.SplitN(s, ".", 3)
	return parts[0], parts[1], parts[2]
}

// Without a secret a service refuses to start — unless DEV_MODE is set,
// when the well-known development key is used. A short secret is refused
// either way.
func TestSecretPolicy(t *testing.T) {
	cases := []struct {
		name  string
		cfg   auth.Config
		valid bool
	}{
		{"missing", auth.Config{Issuer: "expenseflow", Audience: "expenseflow"}, false},
		{"too short", auth.Config{Secret: "short", Issuer: "expenseflow", Audience: "expenseflow"}, false},
		{"too short in dev mode", auth.Config{Secret: "short", DevMode: true, Issuer: "expenseflow", Audience: "expenseflow"}, false},
		{"missing in dev mode", auth.Config{DevMode: true, Issuer: "expenseflow", Audience: "expenseflow"}, true},
		{"long enough", auth.Config{Secret: strings.Repeat("k", auth.MinSecretLength), Issuer: "expenseflow", Audience: "expenseflow"}, true},
	}
	for _, tc := range cases {
		if err := tc.cfg.Validate(); (err == nil) != tc.valid {
			t.Errorf("%s: valid=%v, got %v", tc.name, tc.valid, err)
		}
	}
	dev := auth.Config{DevMode: true, Issuer: "expenseflow", Audience: "expenseflow"}
	token, err := auth.Mint(dev, directory.User{ID: "alice", Role: "employee"}, time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(dev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(token); err != nil {
		t.Fatalf("a dev-mode token does not verify in dev mode: %v", err)
	}
}
