package config

import (
	"strings"
	"testing"
)

// TestSecretFieldsRefusedAsLabels: a label or structured metadata entry taken
// from a redacted field is refused at start with the field named.
func TestSecretFieldsRefusedAsLabels(t *testing.T) {
	for _, tt := range []struct{ name, yaml, want string }{
		{"label", "label_fields:\n      auth: Authorization", `inputs[0].label_fields: label "auth" takes field "Authorization", whose key "Authorization" is redacted`},
		{"nested label", "label_fields:\n      t: req.token", `whose key "token" is redacted`},
		{"metadata", "structured_metadata:\n      pw: db.password", `inputs[0].structured_metadata: metadata "pw" takes field "db.password", whose key "password" is redacted`},
		{"configured key", "redact:\n      fields: [dsn]\n    structured_metadata:\n      d: DSN", `whose key "DSN" is redacted`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("x.yml", []byte("inputs:\n  - paths: [/app/logs/*.log]\n    "+tt.yaml+"\n"))
			if err == nil {
				_, err = f.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v\nwant it to contain %s", err, tt.want)
			}
		})
	}
	f, err := Parse("x.yml", []byte("inputs:\n  - paths: [/app/logs/*.log]\n    label_fields:\n      level: level\n    structured_metadata:\n      tokens: tokens_used\n"))
	if err == nil {
		_, err = f.Validate()
	}
	if err != nil {
		t.Errorf("a field that is not redacted is refused: %v", err)
	}
}
