package config

import (
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
)

// ParseKeyGroups reads --keys.group values: "[dbN=]pattern", several per
// value separated by commas (the incumbent's --count-keys format).
func ParseKeyGroups(values []string) ([]KeyGroup, error) {
	var out []KeyGroup
	for _, v := range splitList(values) {
		db, pattern, err := dbPrefix(v)
		if err != nil {
			return nil, fmt.Errorf("--keys.group %q: %w", v, err)
		}
		out = append(out, KeyGroup{Name: pattern, DB: db, Pattern: pattern})
	}
	return out, nil
}

// ParseSingleKeys reads --keys.length values: "[dbN=]key", comma-separated
// (the incumbent's --check-single-keys format).
func ParseSingleKeys(values []string) ([]SingleKey, error) {
	var out []SingleKey
	for _, v := range splitList(values) {
		db, key, err := dbPrefix(v)
		if err != nil {
			return nil, fmt.Errorf("--keys.length %q: %w", v, err)
		}
		out = append(out, SingleKey{DB: db, Key: key})
	}
	return out, nil
}

func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

func dbPrefix(v string) (int, string, error) {
	head, rest, ok := strings.Cut(v, "=")
	if !ok || !strings.HasPrefix(head, "db") {
		return 0, v, nil
	}
	db, err := strconv.Atoi(strings.TrimPrefix(head, "db"))
	if err != nil || db < 0 {
		return 0, "", fmt.Errorf("%q is not a database (db0, db1, ...)", head)
	}
	if rest == "" {
		return 0, "", fmt.Errorf("nothing after %q", head+"=")
	}
	return db, rest, nil
}

// hashSecret lets a fingerprint notice a changed password without holding it.
func hashSecret(s string) []byte {
	if s == "" {
		return nil
	}
	h := sha256.Sum256([]byte("outrigger-redis-fingerprint:" + s))
	return h[:8]
}
