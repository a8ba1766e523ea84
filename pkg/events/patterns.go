package events

import "strings"

// Matches reports whether an event type (a routing key) matches a
// routing-key pattern with the broker's topic rules: words separated by
// dots, "*" standing for exactly one word and "#" for any number, none
// included. Queues bind with such patterns, and so do webhook endpoints
// (services/webhooks), which is why the rule is written once, here.
func Matches(pattern, eventType string) bool {
	return match(strings.Split(pattern, "."), strings.Split(eventType, "."))
}

func match(p, k []string) bool {
	switch {
	case len(p) == 0:
		return len(k) == 0
	case p[0] == "#":
		for i := 0; i <= len(k); i++ {
			if match(p[1:], k[i:]) {
				return true
			}
		}
		return false
	case len(k) == 0:
		return false
	case p[0] == "*" || p[0] == k[0]:
		return match(p[1:], k[1:])
	}
	return false
}
