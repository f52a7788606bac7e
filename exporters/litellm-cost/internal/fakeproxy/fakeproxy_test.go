package fakeproxy

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func get(t *testing.T, url, key string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The fake is strict where the proxy is: no key, a wrong key, or a page
// size above the proxy's limit are refused.
func TestFakeIsStrict(t *testing.T) {
	p := Start(t, "sk-fake-master")
	for _, c := range []struct {
		path, key string
		want      int
	}{
		{"/key/list", "", 401},
		{"/key/list", "sk-other", 401},
		{"/key/list?size=101", "sk-fake-master", 422},
		{"/key/list?page=0", "sk-fake-master", 422},
		{"/user/daily/activity", "sk-fake-master", 400},
		{"/nope", "sk-fake-master", 404},
		{"/key/list?return_full_object=true", "sk-fake-master", 200},
	} {
		if code, body := get(t, p.URL()+c.path, c.key); code != c.want {
			t.Errorf("GET %s = %d %s, want %d", c.path, code, body, c.want)
		}
	}
	defer http.DefaultClient.CloseIdleConnections()
	if code, body := get(t, p.URL()+"/key/list", "sk-other"); !strings.Contains(body, "sk-other") || code != 401 {
		t.Errorf("the auth error does not echo the key like the proxy's: %d %s", code, body)
	}
}
