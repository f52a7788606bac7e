package proxyapi

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// MaxBody bounds one response: a page of 100 keys or a day-range report is
// far below it; anything bigger is not the proxy answering.
const MaxBody = 32 << 20

// Options configure a Client.
type Options struct {
	// BaseURL is the proxy's URL, e.g. http://litellm:4000 (no credentials).
	BaseURL *url.URL
	// MasterKey is sent as "Authorization: Bearer"; it is never logged,
	// put in a URL, or returned in an error.
	MasterKey string
	// TLS configures https (CA file, skip-verify); nil for the defaults.
	TLS *tls.Config
	// PageSize is the page size asked of paginated endpoints (1-100).
	PageSize int
	// MaxPages bounds the pages read from one listing.
	MaxPages int
	// ActivityPageSize is the page size of daily-activity reports (1-1000;
	// 0 means MaxActivityPageSize).
	ActivityPageSize int
}

// Client talks to one proxy over one connection, one request at a time.
type Client struct {
	base      *url.URL
	key       string
	http      *http.Client
	transport *http.Transport
	pageSize  int
	maxPages  int
	actSize   int
}

// New builds a client; nothing connects until the first request.
func New(o Options) *Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		TLSClientConfig:       o.TLS,
		MaxConnsPerHost:       1,
		MaxIdleConns:          1,
		MaxIdleConnsPerHost:   1,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 0, // the request context bounds every request
		ForceAttemptHTTP2:     o.TLS == nil,
	}
	return &Client{
		base: o.BaseURL, key: o.MasterKey, transport: tr, pageSize: o.PageSize, maxPages: o.MaxPages, actSize: cmp.Or(o.ActivityPageSize, MaxActivityPageSize),
		http: &http.Client{
			Transport: tr,
			// A redirect would carry the key elsewhere or hide a
			// misconfigured URL: report it instead of following it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// Close drops the idle connection.
func (c *Client) Close() { c.transport.CloseIdleConnections() }

// ErrUnavailable marks errors that mean the proxy cannot be read at all
// (unreachable, timing out, or refusing the master key), as opposed to one
// endpoint failing.
var ErrUnavailable = errors.New("LiteLLM proxy unavailable")

// StatusError is an answer other than 200.
type StatusError struct {
	Path   string
	Status int
}

func (e *StatusError) Error() string {
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Sprintf("the LiteLLM proxy refused the master key on %s (HTTP %d): is it the proxy's master key or an admin key?", e.Path, e.Status)
	}
	return fmt.Sprintf("the LiteLLM proxy answered %s with HTTP %d", e.Path, e.Status)
}

// Is makes 401 and 403 count as ErrUnavailable.
func (e *StatusError) Is(target error) bool {
	return target == ErrUnavailable && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden)
}

type unreachable struct{ err error }

func (u unreachable) Error() string        { return "LiteLLM proxy unreachable: " + u.err.Error() }
func (u unreachable) Unwrap() []error      { return []error{ErrUnavailable, u.err} }
func (u unreachable) Is(target error) bool { return target == ErrUnavailable }

// get fetches path?query and returns the body of a 200 answer.
func (c *Client) get(ctx context.Context, path string, q url.Values) ([]byte, error) {
	u := c.base.JoinPath(path)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("building the request for %s: %w", path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "litellm-exporter")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, unreachable{err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// The body is not read into the error: the proxy's auth errors
		// echo parts of the key they were given.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, &StatusError{Path: path, Status: resp.StatusCode}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return nil, unreachable{fmt.Errorf("reading %s: %w", path, err)}
	}
	if len(b) > MaxBody {
		return nil, fmt.Errorf("reading %s: the answer is larger than %d MiB", path, MaxBody>>20)
	}
	return b, nil
}

// paginate reads pages 1.. of a listing until next says there are no more,
// at most MaxPages.
func (c *Client) paginate(ctx context.Context, path string, q url.Values, sizeParam string, page func(b []byte) (more bool, err error)) error {
	return c.paginateBy(ctx, path, q, sizeParam, c.pageSize, page)
}

func (c *Client) paginateBy(ctx context.Context, path string, q url.Values, sizeParam string, size int, page func(b []byte) (more bool, err error)) error {
	q.Set(sizeParam, strconv.Itoa(size))
	for n := 1; ; n++ {
		if n > c.maxPages {
			return fmt.Errorf("listing %s: more than %d pages of %d (raise --litellm.max-pages)", path, c.maxPages, size)
		}
		q.Set("page", strconv.Itoa(n))
		b, err := c.get(ctx, path, q)
		if err != nil {
			return err
		}
		more, err := page(b)
		if err != nil {
			return fmt.Errorf("page %d: %w", n, err)
		}
		if !more {
			return nil
		}
	}
}

// Keys lists every virtual key (full objects).
func (c *Client) Keys(ctx context.Context) ([]Key, error) {
	var out []Key
	err := c.paginate(ctx, "/key/list", url.Values{"return_full_object": {"true"}}, "size", func(b []byte) (bool, error) {
		p, err := ParseKeyPage(b)
		if err != nil {
			return false, err
		}
		out = append(out, p.Keys...)
		return len(p.Keys) > 0 && p.CurrentPage < p.TotalPages, nil
	})
	return out, err
}

// Users lists every user.
func (c *Client) Users(ctx context.Context) ([]User, error) {
	var out []User
	err := c.paginate(ctx, "/user/list", url.Values{}, "page_size", func(b []byte) (bool, error) {
		p, err := ParseUserPage(b)
		if err != nil {
			return false, err
		}
		out = append(out, p.Users...)
		return len(p.Users) > 0 && p.Page < p.TotalPages, nil
	})
	return out, err
}

// Teams lists every team (the endpoint is not paginated).
func (c *Client) Teams(ctx context.Context) ([]Team, error) {
	b, err := c.get(ctx, "/team/list", url.Values{})
	if err != nil {
		return nil, err
	}
	return ParseTeams(b)
}

// Orgs lists every organization (not paginated).
func (c *Client) Orgs(ctx context.Context) ([]Org, error) {
	b, err := c.get(ctx, "/organization/list", url.Values{})
	if err != nil {
		return nil, err
	}
	return ParseOrgs(b)
}

// Budgets lists every LiteLLM_BudgetTable row (not paginated).
func (c *Client) Budgets(ctx context.Context) ([]BudgetRow, error) {
	b, err := c.get(ctx, "/budget/list", url.Values{})
	if err != nil {
		return nil, err
	}
	return ParseBudgets(b)
}

// MaxActivityPageSize is the daily-activity reports' largest page (the
// endpoint's Query(le=1000)), the default, so that most reads are one page.
const MaxActivityPageSize = 1000

// activityAttempts bounds the re-reads of a report that changed while it
// was read.
const activityAttempts = 3

// Activity reads a daily-activity report (/user/daily/activity,
// /tag/daily/activity) for start..end (YYYY-MM-DD, both inclusive), every
// page. The proxy pages its raw day rows by offset, ordered by (date, id)
// with random ids, while its writer inserts and increments them: a row
// inserted before the page being read shifts the rest, so one would be
// skipped or read twice. A report of one page is one query, a snapshot. A
// longer one is read twice and kept only when both reads agree page for
// page (a row inserted or changed while the first read ran shows up as a
// page that differs); after activityAttempts disagreeing reads the step
// fails, keeping the last good data. The proxy paginates raw rows, so a
// date can come back on several pages: callers sum.
func (c *Client) Activity(ctx context.Context, path, start, end string) ([]Day, error) {
	prev, err := c.activityPages(ctx, path, start, end)
	if err != nil || len(prev) == 1 {
		return parseActivity(prev, err)
	}
	for attempt := 1; ; attempt++ {
		again, err := c.activityPages(ctx, path, start, end)
		if err != nil {
			return nil, err
		}
		if slices.EqualFunc(prev, again, bytes.Equal) {
			return parseActivity(again, nil)
		}
		if attempt == activityAttempts {
			return nil, fmt.Errorf("reading %s: the report changed while it was read, %d times", path, attempt+1)
		}
		prev = again
	}
}

// activityPages reads every page of a report, raw.
func (c *Client) activityPages(ctx context.Context, path, start, end string) ([][]byte, error) {
	var pages [][]byte
	q := url.Values{"start_date": {start}, "end_date": {end}}
	err := c.paginateBy(ctx, path, q, "page_size", c.actSize, func(b []byte) (bool, error) {
		p, err := ParseActivityPage(b)
		if err != nil {
			return false, err
		}
		pages = append(pages, b)
		return p.Metadata.HasMore, nil
	})
	return pages, err
}

func parseActivity(pages [][]byte, err error) ([]Day, error) {
	if err != nil {
		return nil, err
	}
	var out []Day
	for _, b := range pages {
		p, err := ParseActivityPage(b)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Results...)
	}
	return out, nil
}
