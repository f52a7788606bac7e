package exporter

import (
	"crypto/sha256"
	"encoding/hex"
)

// KeyID is the short, stable label that stands for a virtual key: a hash of
// the token (itself the sha256 of the key), so neither the key nor the token
// the proxy authenticates with ever appears in a label.
func KeyID(token string) string {
	sum := sha256.Sum256([]byte("outrigger-litellm-key:" + token))
	return hex.EncodeToString(sum[:])[:12]
}
