// Package auth verifies and mints the HS256 JWTs expenseflow uses, and
// provides the gin middleware that turns a bearer token into a Principal.
// Parsing is golang-jwt's; this package only fixes the policy: HS256 only,
// exp required, iss and aud checked, bounded clock skew. What a principal
// may do is decided by pkg/authz, in each service's app layer.
package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/directory"
)

// MinSecretLength is the shortest JWT_SECRET accepted: HS256 wants a key of
// at least its output size (RFC 7518 §3.2).
const MinSecretLength = 32

// Config is the token policy, read from JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE.
type Config struct {
	Secret   string `env:"JWT_SECRET"`
	Issuer   string `env:"JWT_ISSUER" envDefault:"expenseflow"`
	Audience string `env:"JWT_AUDIENCE" envDefault:"expenseflow"`
	// DevMode (DEV_MODE=true) lets a missing JWT_SECRET fall back to
	// DevSecret, a key everyone can read in this file: for a laptop, never
	// for anything reachable. Without it a missing secret stops the service.
	DevMode bool `env:"DEV_MODE"`
}

// DevSecret is the well-known key of DEV_MODE. Tokens signed with it prove
// nothing; services using it say so loudly at start-up.
const DevSecret = "expenseflow-dev-mode-secret-not-for-production"

// key is the HMAC key in force.
func (c Config) key() []byte {
	if c.Secret == "" && c.DevMode {
		return []byte(DevSecret)
	}
	return []byte(c.Secret)
}

// UsesDevSecret reports whether the well-known development key is in force.
func (c Config) UsesDevSecret() bool { return c.Secret == "" && c.DevMode }

// Validate refuses a missing or short secret.
func (c Config) Validate() error {
	if len(c.key()) < MinSecretLength {
		return fmt.Errorf("JWT_SECRET must be set and at least %d bytes long (or DEV_MODE=true on a laptop)", MinSecretLength)
	}
	if c.Issuer == "" || c.Audience == "" {
		return errors.New("JWT_ISSUER and JWT_AUDIENCE must not be empty")
	}
	return nil
}

// leeway is the clock skew tolerated on exp, nbf and iat.
const leeway = 30 * time.Second

// Principal is the authenticated caller.
type Principal struct {
	UserID string
	Role   string
	Name   string
}

type claims struct {
	Role string `json:"role"`
	Name string `json:"name"`
	jwt.RegisteredClaims
}

// Verifier checks tokens against one Config.
type Verifier struct {
	cfg    Config
	parser *jwt.Parser
}

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg Config) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Verifier{cfg: cfg, parser: jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), // a token issued in the future (beyond leeway) is refused
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithLeeway(leeway),
	)}, nil
}

// Verify returns the principal of a valid token, or an Unauthorized error
// that does not say which check failed (no oracle for forgers).
func (v *Verifier) Verify(token string) (Principal, error) {
	var c claims
	_, err := v.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return v.cfg.key(), nil })
	if err != nil || c.Subject == "" || c.Role == "" {
		return Principal{}, apperr.New(apperr.Unauthorized, "a valid bearer token is required")
	}
	return Principal{UserID: c.Subject, Role: c.Role, Name: c.Name}, nil
}

// Mint signs a token for a directory user, valid for ttl from now.
func Mint(cfg Config, u directory.User, now time.Time, ttl time.Duration) (string, error) {
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	c := claims{Role: u.Role, Name: u.Name, RegisteredClaims: jwt.RegisteredClaims{
		Subject:   u.ID,
		Issuer:    cfg.Issuer,
		Audience:  jwt.ClaimStrings{cfg.Audience},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(cfg.key())
}
