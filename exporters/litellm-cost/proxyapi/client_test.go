package proxyapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/exporters/litellm-cost/internal/fakeproxy"
)

const key = "sk-client-test-5e6f7a8b"

func client(t *testing.T, raw string, pageSize, maxPages int) *Client {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := New(Options{BaseURL: u, MasterKey: key, PageSize: pageSize, MaxPages: maxPages})
	t.Cleanup(c.Close)
	return c
}

func TestKeysArePagedAndBounded(t *testing.T) {
	p := fakeproxy.Start(t, key)
	p.With(func(d *fakeproxy.Data) {
		for _, tok := range []string{"a1", "b2", "c3", "d4", "e5"} {
			d.Keys = append(d.Keys, fakeproxy.Key{Token: tok})
		}
	})
	keys, err := client(t, p.URL(), 2, 3).Keys(t.Context())
	if err != nil || len(keys) != 5 {
		t.Fatalf("Keys = %d keys, %v; want all 5 over 3 pages", len(keys), err)
	}
	if n := p.Requests("/key/list"); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
	_, err = client(t, p.URL(), 2, 2).Keys(t.Context())
	if err == nil || !strings.Contains(err.Error(), "more than 2 pages") {
		t.Fatalf("Keys with a 2-page bound = %v, want a bound error", err)
	}
}

// Errors carry the status, never the answer's body (the proxy's auth
// errors echo the key), and 401/403/unreachable are ErrUnavailable.
func TestErrors(t *testing.T) {
	p := fakeproxy.Start(t, "sk-another-master")
	_, err := client(t, p.URL(), 10, 10).Teams(t.Context())
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 401 || !errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), key) {
		t.Fatalf("Teams with a wrong key = %v", err)
	}
	p2 := fakeproxy.Start(t, key)
	p2.Fail("/team/list", 500)
	_, err = client(t, p2.URL(), 10, 10).Teams(t.Context())
	if !errors.As(err, &se) || se.Status != 500 || errors.Is(err, ErrUnavailable) {
		t.Fatalf("Teams on a 500 = %v, want a plain status error", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://elsewhere.invalid/", http.StatusFound)
	}))
	defer srv.Close()
	_, err = client(t, srv.URL, 10, 10).Teams(t.Context())
	if !errors.As(err, &se) || se.Status != 302 {
		t.Fatalf("a redirect = %v, want it reported, not followed", err)
	}
	c := client(t, "http://127.0.0.1:1", 10, 10)
	if _, err = c.Teams(t.Context()); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("an unreachable proxy = %v", err)
	}
}

// A hanging proxy: the request ends with its context.
func TestRequestsEndWithTheirContext(t *testing.T) {
	p := fakeproxy.Start(t, key)
	p.Hang()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := client(t, p.URL(), 10, 10).Orgs(ctx)
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("Orgs on a hanging proxy = %v after %s", err, time.Since(start))
	}
}

func TestTimestamps(t *testing.T) {
	for in, want := range map[string]string{
		`"2026-03-10T18:00:00.000000"`: "2026-03-10T18:00:00Z",
		`"2026-03-10T18:00:00+02:00"`:  "2026-03-10T16:00:00Z",
		`"2026-03-10T18:00:00.123Z"`:   "2026-03-10T18:00:00.123Z",
		`null`:                         "",
	} {
		var tt Time
		if err := tt.UnmarshalJSON([]byte(in)); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		got := ""
		if tt.Valid {
			got = tt.Format(time.RFC3339Nano)
		}
		if got != want {
			t.Errorf("%s = %q, want %q", in, got, want)
		}
	}
	var tt Time
	if err := tt.UnmarshalJSON([]byte(`"yesterday"`)); err == nil {
		t.Error("a non-ISO timestamp was accepted")
	}
}

// FuzzParse feeds every parser the fake proxy's answers and their mutations:
// none may panic, and what they accept holds what callers rely on.
func FuzzParse(f *testing.F) {
	p := fakeproxy.Start(f, key)
	p.With(func(d *fakeproxy.Data) {
		max := 10.0
		reset := time.Date(2026, 3, 10, 18, 0, 0, 0, time.UTC)
		d.Keys = []fakeproxy.Key{{Token: "3f2a", KeyAlias: "search-prod", TeamID: "team-1", Spend: 7, MaxBudget: &max, BudgetResetAt: &reset}, {Token: "9b1c"}}
		d.Teams = []fakeproxy.Team{{TeamID: "team-1", TeamAlias: "search", MaxBudget: &max}}
		d.Users = []fakeproxy.User{{UserID: "u1", Spend: 1}, {UserID: "litellm-proxy-budget", MaxBudget: &max}}
		d.Budgets = []fakeproxy.Budget{{BudgetID: "b1", MaxBudget: &max, BudgetResetAt: &reset}}
		d.Orgs = []fakeproxy.Org{{OrganizationID: "o1", BudgetID: "b1", Spend: 2}}
		d.UserDaily = []fakeproxy.DailyRow{{ID: "r1", Date: "2026-03-10", APIKey: "3f2a", ModelGroup: "gpt-4o", Spend: 1.5, Prompt: 10, Requests: 1, Successful: 1}}
		d.TagDaily = []fakeproxy.DailyRow{{ID: "t1", Date: "2026-03-10", Entity: "prod", Spend: 1}}
	})
	for _, path := range []string{"/key/list?return_full_object=true&size=1", "/team/list", "/user/list", "/organization/list",
		"/budget/list", "/user/daily/activity?start_date=2026-03-01&end_date=2026-03-31", "/tag/daily/activity?start_date=2026-03-01&end_date=2026-03-31"} {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, p.URL()+path, nil)
		if err != nil {
			f.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		f.Add(b)
	}
	http.DefaultClient.CloseIdleConnections()
	f.Add([]byte(`{"keys":["sk-token-only"],"total_count":1,"current_page":1,"total_pages":1}`))
	f.Add([]byte(`{"results":[{"date":"not-a-date"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if kp, err := ParseKeyPage(b); err == nil {
			for _, k := range kp.Keys {
				if k.Token == "" {
					t.Fatal("a key without a token was accepted")
				}
			}
		} else if len(b) > 64 && strings.Contains(err.Error(), string(b)) {
			t.Fatalf("the error echoes the answer: %v", err)
		}
		if ap, err := ParseActivityPage(b); err == nil {
			for _, d := range ap.Results {
				if _, err := time.Parse("2006-01-02", d.Date); err != nil {
					t.Fatalf("date %q accepted", d.Date)
				}
			}
		}
		_, _ = ParseTeams(b)
		_, _ = ParseUserPage(b)
		_, _ = ParseOrgs(b)
		_, _ = ParseBudgets(b)
	})
}
