// Package fakeproxy is a strict stand-in for the LiteLLM proxy's management
// API, built from its documented wire contract (the shapes proxyapi names),
// for tests: the real proxy is Python and cannot run here. It checks the
// Bearer master key, paginates like the proxy, and can fail or hang on
// demand. It is imported by tests only.
package fakeproxy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
)

// Key is a LiteLLM_VerificationToken row.
type Key struct {
	Token, KeyName, KeyAlias, UserID, TeamID, BudgetID string
	Spend                                              float64
	MaxBudget                                          *float64
	BudgetResetAt                                      *time.Time
	Blocked                                            *bool
}

// Team is a LiteLLM_TeamTable row.
type Team struct {
	TeamID, TeamAlias, OrganizationID string
	Spend                             float64
	MaxBudget, SoftBudget             *float64
	BudgetResetAt                     *time.Time
	Blocked                           bool
}

// User is a LiteLLM_UserTable row.
type User struct {
	UserID, UserAlias, UserEmail string
	Spend                        float64
	MaxBudget                    *float64
	BudgetResetAt                *time.Time
}

// Budget is a LiteLLM_BudgetTable row.
type Budget struct {
	BudgetID              string
	MaxBudget, SoftBudget *float64
	BudgetResetAt         *time.Time
}

// Org is a LiteLLM_OrganizationTable row.
type Org struct {
	OrganizationID, OrganizationAlias, BudgetID string
	Spend                                       float64
}

// DailyRow is a row of LiteLLM_DailyUserSpend (Entity = user_id) or
// LiteLLM_DailyTagSpend (Entity = tag).
type DailyRow struct {
	ID, Date, Entity, APIKey, Model, ModelGroup, Provider string
	Spend                                                 float64
	Prompt, Completion, CacheRead, CacheCreation          int64
	Requests, Successful, Failed                          int64
}

// Proxy is the fake. Set its fields before Start or under With.
type Proxy struct {
	MasterKey string

	mu                      sync.Mutex
	keys                    []Key
	deleted                 []Key
	teams                   []Team
	users                   []User
	budgets                 []Budget
	orgs                    []Org
	orgsNotNested, notAdmin bool
	userDaily               []DailyRow
	tagDaily                []DailyRow
	failures                map[string][]int // path ("" = any) -> statuses still to answer
	hang                    chan struct{}
	inFlight                int
	maxInFlight             int
	requests                map[string]int
	queries                 []string
	srv                     *httptest.Server
	clock                   func() time.Time
	after                   func(d *Data, path string, q url.Values)
}

// Option changes how the fake starts.
type Option func(*Proxy)

// WithClock sets the fake's clock (the times it stamps on what it creates);
// the default is testkit.Now, the clock the tests share.
func WithClock(now func() time.Time) Option { return func(p *Proxy) { p.clock = now } }

// Start serves the fake on a loopback port until the test ends.
func Start(t interface {
	Helper()
	Cleanup(func())
}, masterKey string, opts ...Option) *Proxy {
	t.Helper()
	p := &Proxy{MasterKey: masterKey, failures: map[string][]int{}, requests: map[string]int{}, clock: testkit.Now}
	for _, o := range opts {
		o(p)
	}
	p.srv = httptest.NewServer(p)
	t.Cleanup(func() {
		p.Release()
		p.srv.Close()
	})
	return p
}

// URL is the proxy's base URL.
func (p *Proxy) URL() string { return p.srv.URL }

// With runs f with the fake's data locked, to change it between requests.
func (p *Proxy) With(f func(d *Data)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.with(f)
}

func (p *Proxy) with(f func(d *Data)) {
	d := &Data{Keys: p.keys, Deleted: p.deleted, Teams: p.teams, Users: p.users, Budgets: p.budgets, Orgs: p.orgs,
		UserDaily: p.userDaily, TagDaily: p.tagDaily, OrgsNotNested: p.orgsNotNested, NotAdmin: p.notAdmin}
	f(d)
	p.keys, p.deleted, p.teams, p.users, p.budgets, p.orgs = d.Keys, d.Deleted, d.Teams, d.Users, d.Budgets, d.Orgs
	p.userDaily, p.tagDaily, p.orgsNotNested, p.notAdmin = d.UserDaily, d.TagDaily, d.OrgsNotNested, d.NotAdmin
}

// AfterEach runs f, with the data locked, after every answered request: a
// test changes the data between the pages of one read, as the proxy's
// writer does.
func (p *Proxy) AfterEach(f func(d *Data, path string, q url.Values)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.after = f
}

// Data is the proxy's state.
type Data struct {
	Keys, Deleted       []Key
	Teams               []Team
	Users               []User
	Budgets             []Budget
	Orgs                []Org
	UserDaily, TagDaily []DailyRow
	// OrgsNotNested: /organization/list leaves out litellm_budget_table
	// (releases that do not include it), so budgets come from /budget/list.
	OrgsNotNested bool
	// NotAdmin: the key is not a proxy admin, so /organization/list shows
	// only the organizations it is a member of (none).
	NotAdmin bool
}

// Fail makes the next len(statuses) requests to path ("" for any) answer
// those HTTP statuses.
func (p *Proxy) Fail(path string, statuses ...int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures[path] = append(p.failures[path], statuses...)
}

// Hang makes every request block until Release (or the client gives up).
func (p *Proxy) Hang() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hang == nil {
		p.hang = make(chan struct{})
	}
}

// Release ends Hang.
func (p *Proxy) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hang != nil {
		close(p.hang)
		p.hang = nil
	}
}

// Requests counts the requests to path that carried the right key.
func (p *Proxy) Requests(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests[path]
}

// MaxInFlight is the most requests the fake served at once.
func (p *Proxy) MaxInFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxInFlight
}

// Queries are the request URIs seen (to check no secret is in a URL).
func (p *Proxy) Queries() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.queries...)
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.inFlight++
	p.maxInFlight = max(p.maxInFlight, p.inFlight)
	p.queries = append(p.queries, r.URL.RequestURI())
	hang := p.hang
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.inFlight--
		p.mu.Unlock()
	}()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
	}
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	// The proxy's auth error echoes the key it was given: a client must
	// never copy an error body into its own errors.
	if got := r.Header.Get("Authorization"); got != "Bearer "+p.MasterKey {
		writeError(w, http.StatusUnauthorized, "Authentication Error, Invalid proxy server token passed. Received API Key = "+strings.TrimPrefix(got, "Bearer "))
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests[r.URL.Path]++
	if p.after != nil {
		defer p.with(func(d *Data) { p.after(d, r.URL.Path, r.URL.Query()) })
	}
	for _, path := range []string{r.URL.Path, ""} {
		if f := p.failures[path]; len(f) > 0 {
			p.failures[path] = f[1:]
			writeError(w, f[0], "injected failure")
			return
		}
	}
	q := r.URL.Query()
	switch r.URL.Path {
	case "/key/list":
		p.keyList(w, q)
	case "/team/list":
		writeJSON(w, p.teamList())
	case "/user/list":
		p.userList(w, q)
	case "/organization/list":
		writeJSON(w, p.orgList())
	case "/budget/list":
		writeJSON(w, p.budgetList())
	case "/user/daily/activity":
		p.activity(w, q, p.userDaily, false)
	case "/tag/daily/activity":
		p.activity(w, q, p.tagDaily, true)
	default:
		writeError(w, http.StatusNotFound, "Not Found")
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"message": msg, "type": "auth_error", "param": "None", "code": strconv.Itoa(status)}})
}

// intParam reads a FastAPI Query(int, ge, le) parameter: 422 when out of range.
// paging reads the 1-based page and the page size (parameter sizeName,
// default def, up to most), answering 422 as the proxy does when either is
// out of range.
func paging(w http.ResponseWriter, q map[string][]string, sizeName string, def, most int) (page, size int, ok bool) {
	if page, ok = intParam(w, q, "page", 1, 1, 1<<30); !ok {
		return 0, 0, false
	}
	size, ok = intParam(w, q, sizeName, def, 1, most)
	return page, size, ok
}

func intParam(w http.ResponseWriter, q map[string][]string, name string, def, lo, hi int) (int, bool) {
	v := def
	if s := first(q, name); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			writeJSON422(w, name)
			return 0, false
		}
		v = n
	}
	return v, true
}

func writeJSON422(w http.ResponseWriter, name string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnprocessableEntity)
	_ = json.NewEncoder(w).Encode(map[string]any{"detail": []any{map[string]any{"loc": []string{"query", name}, "msg": "invalid", "type": "value_error"}}})
}

func first(q map[string][]string, name string) string {
	if v := q[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func num(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}

// ts renders a timestamp the way the proxy's pydantic models do (naive UTC
// ISO 8601 from Prisma's TIMESTAMP(3)).
func ts(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000")
}

func pages(total, size int) int { return (total + size - 1) / size }

func (p *Proxy) keyList(w http.ResponseWriter, q map[string][]string) {
	page, size, ok := paging(w, q, "size", 10, 100)
	if !ok {
		return
	}
	keys := append([]Key(nil), p.keys...)
	sort.Slice(keys, func(i, j int) bool { return keys[i].Token > keys[j].Token }) // the proxy's fallback sort
	lo, hi := min((page-1)*size, len(keys)), min(page*size, len(keys))
	full := first(q, "return_full_object") == "true"
	var out []any
	for _, k := range keys[lo:hi] {
		if !full {
			out = append(out, k.Token)
			continue
		}
		var blocked any
		if k.Blocked != nil {
			blocked = *k.Blocked
		}
		out = append(out, map[string]any{
			"token": k.Token, "key_name": k.KeyName, "key_alias": nullable(k.KeyAlias), "spend": k.Spend,
			"max_budget": num(k.MaxBudget), "budget_duration": nil, "budget_reset_at": ts(k.BudgetResetAt),
			"expires": nil, "models": []string{}, "aliases": map[string]any{}, "config": map[string]any{},
			"user_id": nullable(k.UserID), "team_id": nullable(k.TeamID), "budget_id": nullable(k.BudgetID),
			"blocked": blocked, "metadata": map[string]any{}, "max_parallel_requests": nil,
			"tpm_limit": nil, "rpm_limit": nil, "created_at": p.created(),
			"object_permission": nil, "api_key": nil, "user_role": nil,
		})
	}
	if out == nil {
		out = []any{}
	}
	writeJSON(w, map[string]any{"keys": out, "total_count": len(keys), "current_page": page, "total_pages": pages(len(keys), size)})
}

func (p *Proxy) teamList() []any {
	out := []any{}
	for _, t := range p.teams {
		out = append(out, map[string]any{
			"team_id": t.TeamID, "team_alias": nullable(t.TeamAlias), "organization_id": nullable(t.OrganizationID),
			"admins": []any{}, "members": []any{}, "members_with_roles": []any{}, "metadata": map[string]any{},
			"tpm_limit": nil, "rpm_limit": nil, "max_budget": num(t.MaxBudget), "soft_budget": num(t.SoftBudget),
			"budget_duration": nil, "models": []string{}, "blocked": t.Blocked, "spend": t.Spend,
			"max_parallel_requests": nil, "budget_reset_at": ts(t.BudgetResetAt), "model_id": nil,
			"litellm_model_table": nil, "created_at": p.created(),
		})
	}
	return out
}

func (p *Proxy) userList(w http.ResponseWriter, q map[string][]string) {
	page, size, ok := paging(w, q, "page_size", 25, 100)
	if !ok {
		return
	}
	users := append([]User(nil), p.users...)
	sort.Slice(users, func(i, j int) bool { return users[i].UserID < users[j].UserID })
	lo, hi := min((page-1)*size, len(users)), min(page*size, len(users))
	out := []any{}
	for _, u := range users[lo:hi] {
		out = append(out, map[string]any{
			"user_id": u.UserID, "user_alias": nullable(u.UserAlias), "user_email": nullable(u.UserEmail),
			"user_role": "internal_user", "spend": u.Spend, "max_budget": num(u.MaxBudget),
			"budget_duration": nil, "budget_reset_at": ts(u.BudgetResetAt), "teams": []string{}, "models": []string{},
			"key_count": 0, "created_at": p.created(),
		})
	}
	writeJSON(w, map[string]any{"users": out, "total": len(users), "page": page, "page_size": size, "total_pages": pages(len(users), size)})
}

func (p *Proxy) budget(id string) (map[string]any, bool) {
	for _, b := range p.budgets {
		if b.BudgetID == id {
			return map[string]any{"budget_id": b.BudgetID, "max_budget": num(b.MaxBudget), "soft_budget": num(b.SoftBudget),
				"max_parallel_requests": nil, "tpm_limit": nil, "rpm_limit": nil, "model_max_budget": nil,
				"budget_duration": nil, "budget_reset_at": ts(b.BudgetResetAt), "created_at": p.created()}, true
		}
	}
	return nil, false
}

func (p *Proxy) orgList() []any {
	out := []any{}
	if p.notAdmin {
		return out
	}
	for _, o := range p.orgs {
		org := map[string]any{
			"organization_id": o.OrganizationID, "organization_alias": nullable(o.OrganizationAlias),
			"budget_id": o.BudgetID, "spend": o.Spend, "metadata": map[string]any{}, "models": []string{},
			"members": []any{}, "teams": []any{},
			"created_at": p.created(), "created_by": "admin", "updated_by": "admin",
		}
		if !p.orgsNotNested {
			org["litellm_budget_table"], _ = p.budget(o.BudgetID)
		}
		out = append(out, org)
	}
	return out
}

// created is the creation time the fake stamps on what it lists: a day
// before its clock's now.
func (p *Proxy) created() string {
	return p.clock().UTC().Add(-24 * time.Hour).Format("2006-01-02T15:04:05.000000Z")
}

func (p *Proxy) budgetList() []any {
	out := []any{}
	for _, b := range p.budgets {
		v, _ := p.budget(b.BudgetID)
		out = append(out, v)
	}
	return out
}

func (p *Proxy) keyMeta(token string) map[string]any {
	for _, set := range [][]Key{p.keys, p.deleted} {
		for _, k := range set {
			if k.Token == token {
				return map[string]any{"key_alias": nullable(k.KeyAlias), "team_id": nullable(k.TeamID),
					"user_id": nullable(k.UserID), "user_email": nil, "key_exists": true}
			}
		}
	}
	return map[string]any{"key_alias": nil, "team_id": nil, "user_id": nil, "user_email": nil, "key_exists": false}
}

type metrics struct {
	Spend                    float64 `json:"spend"`
	FlatCost                 float64 `json:"flat_cost"`
	PromptTokens             int64   `json:"prompt_tokens"`
	CompletionTokens         int64   `json:"completion_tokens"`
	CacheReadInputTokens     int64   `json:"cache_read_input_tokens"`
	CacheCreationInputTokens int64   `json:"cache_creation_input_tokens"`
	TotalTokens              int64   `json:"total_tokens"`
	SuccessfulRequests       int64   `json:"successful_requests"`
	FailedRequests           int64   `json:"failed_requests"`
	APIRequests              int64   `json:"api_requests"`
	TotalResponseTimeMS      int64   `json:"total_response_time_ms"`
	TimedRequests            int64   `json:"timed_requests"`
}

func (m *metrics) add(r DailyRow) {
	m.Spend += r.Spend
	m.PromptTokens += r.Prompt
	m.CompletionTokens += r.Completion
	m.TotalTokens += r.Prompt + r.Completion
	m.CacheReadInputTokens += r.CacheRead
	m.CacheCreationInputTokens += r.CacheCreation
	m.APIRequests += r.Requests
	m.SuccessfulRequests += r.Successful
	m.FailedRequests += r.Failed
}

type keyBucket struct {
	Metrics  metrics        `json:"metrics"`
	Metadata map[string]any `json:"metadata"`
}

type bucket struct {
	Metrics         metrics               `json:"metrics"`
	Metadata        map[string]any        `json:"metadata"`
	APIKeyBreakdown map[string]*keyBucket `json:"api_key_breakdown"`
}

type breakdown struct {
	MCPServers  map[string]*bucket    `json:"mcp_servers"`
	Models      map[string]*bucket    `json:"models"`
	ModelGroups map[string]*bucket    `json:"model_groups"`
	Providers   map[string]*bucket    `json:"providers"`
	Endpoints   map[string]*bucket    `json:"endpoints"`
	APIKeys     map[string]*keyBucket `json:"api_keys"`
	Entities    map[string]*bucket    `json:"entities"`
}

type day struct {
	Date      string    `json:"date"`
	Metrics   metrics   `json:"metrics"`
	Breakdown breakdown `json:"breakdown"`
}

func (p *Proxy) addTo(m map[string]*bucket, name string, r DailyRow) {
	b := m[name]
	if b == nil {
		b = &bucket{Metadata: map[string]any{}, APIKeyBreakdown: map[string]*keyBucket{}}
		m[name] = b
	}
	b.Metrics.add(r)
	k := b.APIKeyBreakdown[r.APIKey]
	if k == nil {
		k = &keyBucket{Metadata: p.keyMeta(r.APIKey)}
		b.APIKeyBreakdown[r.APIKey] = k
	}
	k.Metrics.add(r)
}

// activity answers a daily-activity report as get_daily_activity does: the
// raw rows in [start_date, end_date] ordered by (date desc, id asc), one
// page of them, grouped by date.
func (p *Proxy) activity(w http.ResponseWriter, q map[string][]string, rows []DailyRow, entities bool) {
	start, end := first(q, "start_date"), first(q, "end_date")
	if start == "" || end == "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"detail": map[string]any{"error": "Please provide start_date and end_date"}})
		return
	}
	page, size, ok := paging(w, q, "page_size", 10, 1000)
	if !ok {
		return
	}
	var sel []DailyRow
	for _, r := range rows {
		if r.Date >= start && r.Date <= end {
			sel = append(sel, r)
		}
	}
	sort.Slice(sel, func(i, j int) bool {
		if sel[i].Date != sel[j].Date {
			return sel[i].Date > sel[j].Date
		}
		return sel[i].ID < sel[j].ID
	})
	total := len(sel)
	sel = sel[min((page-1)*size, total):min(page*size, total)]
	byDate := map[string]*day{}
	var order []string
	var totals metrics
	for _, r := range sel {
		d := byDate[r.Date]
		if d == nil {
			d = &day{Date: r.Date, Breakdown: breakdown{MCPServers: map[string]*bucket{}, Models: map[string]*bucket{},
				ModelGroups: map[string]*bucket{}, Providers: map[string]*bucket{}, Endpoints: map[string]*bucket{},
				APIKeys: map[string]*keyBucket{}, Entities: map[string]*bucket{}}}
			byDate[r.Date] = d
			order = append(order, r.Date)
		}
		d.Metrics.add(r)
		totals.add(r)
		if r.Model != "" {
			p.addTo(d.Breakdown.Models, r.Model, r)
		}
		if g := cmpOr(r.ModelGroup, r.Model); g != "" {
			p.addTo(d.Breakdown.ModelGroups, g, r)
		}
		p.addTo(d.Breakdown.Providers, cmpOr(r.Provider, "unknown"), r)
		k := d.Breakdown.APIKeys[r.APIKey]
		if k == nil {
			k = &keyBucket{Metadata: p.keyMeta(r.APIKey)}
			d.Breakdown.APIKeys[r.APIKey] = k
		}
		k.Metrics.add(r)
		if entities {
			p.addTo(d.Breakdown.Entities, cmpOr(r.Entity, "Unassigned"), r)
		}
	}
	results := []day{}
	for _, dd := range order {
		results = append(results, *byDate[dd])
	}
	writeJSON(w, map[string]any{"results": results, "metadata": map[string]any{
		"total_spend": totals.Spend, "total_prompt_tokens": totals.PromptTokens, "total_completion_tokens": totals.CompletionTokens,
		"total_tokens": totals.TotalTokens, "total_api_requests": totals.APIRequests, "total_successful_requests": totals.SuccessfulRequests,
		"total_failed_requests": totals.FailedRequests, "total_cache_read_input_tokens": totals.CacheReadInputTokens,
		"total_cache_creation_input_tokens": totals.CacheCreationInputTokens,
		"page":                              page, "total_pages": pages(total, size), "has_more": page*size < total,
	}})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// String names the fake in test logs.
func (p *Proxy) String() string { return fmt.Sprintf("fake LiteLLM proxy at %s", p.srv.URL) }
