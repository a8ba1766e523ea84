// Command devtoken mints a JWT for a user of the directory, for the demo and
// local development:
//
//	TOKEN=$(go run ./cmd/devtoken alice)
//
// It signs with JWT_SECRET (and JWT_ISSUER / JWT_AUDIENCE), like the services
// verify, and refuses ids that are not in the directory (USER_DIRECTORY, or
// the built-in demo users).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/directory"
)

func main() {
	ttl := flag.Duration("ttl", 12*time.Hour, "how long the token is valid")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: devtoken [-ttl 12h] <user-id>")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := mint(os.Stdout, flag.Arg(0), *ttl); err != nil {
		fmt.Fprintln(os.Stderr, "devtoken:", err)
		os.Exit(1)
	}
}

func mint(w io.Writer, userID string, ttl time.Duration) error {
	var cfg struct {
		auth.Config
		Directory string `env:"USER_DIRECTORY"`
	}
	if err := env.Parse(&cfg); err != nil {
		return err
	}
	dir, err := directory.Load(cfg.Directory)
	if err != nil {
		return err
	}
	user, ok := dir.Lookup(userID)
	if !ok {
		var ids []string
		for _, u := range dir.Users() {
			ids = append(ids, u.ID)
		}
		return fmt.Errorf("%q is not in the user directory; known users: %v", userID, ids)
	}
	token, err := auth.Mint(cfg.Config, user, time.Now(), ttl)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, token)
	return err
}
