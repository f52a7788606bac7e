package tlsclient

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/testkit"
)

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	pki := testkit.NewPKI(t)
	pair := pki.Issue(t, "shipper")
	cert, key := pair.CertFile, pair.KeyFile
	tc, err := Config{CAFile: pki.CAFile, CertFile: cert, KeyFile: key, ServerName: "loki.internal"}.Build("loki")
	if err != nil {
		t.Fatal(err)
	}
	if tc.RootCAs == nil || tc.ServerName != "loki.internal" || tc.InsecureSkipVerify || tc.MinVersion != tls.VersionTLS12 ||
		tc.GetClientCertificate == nil {
		t.Errorf("%+v", tc)
	}
	if c, err := tc.GetClientCertificate(&tls.CertificateRequestInfo{}); err != nil || len(c.Certificate) != 1 {
		t.Errorf("client certificate: %v %v", c, err)
	}
	tc, err = Config{InsecureSkipVerify: true}.Build("elasticsearch")
	if err != nil || !tc.InsecureSkipVerify || tc.RootCAs != nil || tc.GetClientCertificate != nil || tc.MinVersion != tls.VersionTLS12 {
		t.Errorf("skip verify: %+v %v", tc, err)
	}
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for what, c := range map[string]Config{
		"a missing CA file":       {CAFile: filepath.Join(dir, "missing.pem")},
		"a CA file without a PEM": {CAFile: garbage},
		"a certificate alone":     {CertFile: cert},
		"a key alone":             {KeyFile: key},
		"a key that is no key":    {CertFile: cert, KeyFile: garbage},
	} {
		if _, err := c.Build("kubernetes"); err == nil || !strings.HasPrefix(err.Error(), "kubernetes TLS: ") {
			t.Errorf("%s: %v", what, err)
		}
	}
}
