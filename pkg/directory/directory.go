// Package directory is the small user directory of expenseflow: who exists,
// their role and e-mail address. It is configuration, not a service: the
// notification service reads it to find recipients (managers, finance) and
// the dev token tool reads it to mint tokens only for real users.
package directory

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// Roles a user can have; they are also the JWT "role" claim values.
const (
	RoleEmployee = "employee"
	RoleManager  = "manager"
	RoleFinance  = "finance"
	RoleAuditor  = "auditor"
)

// User is one person in the directory.
type User struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Role  string `json:"role"`
	Email string `json:"email"`
}

// Directory is an immutable list of users.
type Directory struct{ users []User }

//go:embed demo-users.json
var demoUsers []byte

// Load reads a directory from a JSON file (a list of users); an empty path
// gives the demo directory built into the binary.
func Load(path string) (Directory, error) {
	data := demoUsers
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return Directory{}, err
		}
	}
	var users []User
	if err := json.Unmarshal(data, &users); err != nil {
		return Directory{}, fmt.Errorf("user directory %q: %w", path, err)
	}
	validRoles := []string{RoleEmployee, RoleManager, RoleFinance, RoleAuditor}
	for _, u := range users {
		if u.ID == "" || !slices.Contains(validRoles, u.Role) {
			return Directory{}, fmt.Errorf("user directory %q: user %q needs an id and one of the roles %v", path, u.ID, validRoles)
		}
	}
	return Directory{users: users}, nil
}

// Lookup returns the user with id.
func (d Directory) Lookup(id string) (User, bool) {
	i := slices.IndexFunc(d.users, func(u User) bool { return u.ID == id })
	if i < 0 {
		return User{}, false
	}
	return d.users[i], true
}

// WithRole returns every user holding role, in directory order.
func (d Directory) WithRole(role string) []User {
	var out []User
	for _, u := range d.users {
		if u.Role == role {
			out = append(out, u)
		}
	}
	return out
}

// Users returns all users in directory order.
func (d Directory) Users() []User { return slices.Clone(d.users) }
