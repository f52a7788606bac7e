package collector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/outrigger/outrigger/exporters/postgres/config"
	"github.com/outrigger/outrigger/internal/promkit"
)

// Probes serves /probe?target=&auth_module=: one Target (so one connection)
// per target and auth module, credentials from the configuration file only,
// at most Max targets held (the least recently used is closed first).
type Probes struct {
	Conn    config.ConnOptions
	Options Options
	// File returns the configuration in force (auth modules).
	File func() *config.File
	Max  int

	mu      sync.Mutex
	targets map[string]*probeTarget
}

type probeTarget struct {
	t    *Target
	used time.Time
}

// TargetFunc resolves a probe request.
func (p *Probes) TargetFunc(r *http.Request) (string, promkit.StartFunc, error) {
	q := r.URL.Query()
	target, module := q.Get("target"), q.Get("auth_module")
	if target == "" {
		return "", nil, errors.New("missing ?target= (host:port/dbname)")
	}
	key := module + "\x00" + target
	p.mu.Lock()
	defer p.mu.Unlock()
	if pt, ok := p.targets[key]; ok {
		pt.used = time.Now()
		return "probe\x00" + key, pt.t.Start, nil
	}
	cfgDSN, user, password, err := p.dsn(target, module)
	if err != nil {
		return "", nil, err
	}
	cc, err := config.ConnConfig(cfgDSN, password, p.Conn)
	if err != nil {
		return "", nil, fmt.Errorf("target %q: %w", target, err)
	}
	if user != "" {
		cc.User = user
	}
	if p.targets == nil {
		p.targets = map[string]*probeTarget{}
	}
	p.evictLocked(r.Context())
	pt := &probeTarget{t: NewTarget(cc, p.Options), used: time.Now()}
	p.targets[key] = pt
	return "probe\x00" + key, pt.t.Start, nil
}

// dsn builds a connection string for target with the auth module's options.
func (p *Probes) dsn(target, module string) (dsn, user, password string, err error) {
	if strings.Contains(target, "://") {
		u, err := url.Parse(target)
		if err != nil {
			return "", "", "", fmt.Errorf("target is not a valid URL")
		}
		if u.User != nil {
			return "", "", "", errors.New("target must not carry credentials: put them in an auth module of the config file")
		}
		target = u.Host + u.Path
	}
	hostport, db, _ := strings.Cut(target, "/")
	if hostport == "" {
		return "", "", "", errors.New("target has no host")
	}
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		hostport = net.JoinHostPort(hostport, "5432")
	}
	opts := url.Values{}
	if module != "" {
		f := p.File()
		am, ok := f.AuthModules[module]
		if !ok {
			return "", "", "", fmt.Errorf("auth_module %q is not in the config file", module)
		}
		user = am.UserPass.Username
		if password, err = am.Password(); err != nil {
			return "", "", "", err
		}
		for k, v := range am.Options {
			if k == "dbname" && db == "" {
				db = v
				continue
			}
			opts.Set(k, v)
		}
	}
	if db == "" {
		db = "postgres"
	}
	u := url.URL{Scheme: "postgres", Host: hostport, Path: "/" + db, RawQuery: opts.Encode()}
	return u.String(), user, password, nil
}

// evictLocked closes the least recently used targets beyond Max-1.
func (p *Probes) evictLocked(ctx context.Context) {
	if len(p.targets) < p.Max {
		return
	}
	keys := make([]string, 0, len(p.targets))
	for k := range p.targets {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return p.targets[keys[i]].used.Before(p.targets[keys[j]].used) })
	for _, k := range keys[:len(keys)-p.Max+1] {
		p.targets[k].t.Close(ctx)
		delete(p.targets, k)
	}
}

// Reset closes every probe target (after a reload changed credentials).
func (p *Probes) Reset(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, pt := range p.targets {
		pt.t.Close(ctx)
		delete(p.targets, k)
	}
}
