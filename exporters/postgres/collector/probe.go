package collector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
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
	// DSNHosts are the host:port pairs of --postgres.dsn: where an auth
	// module without targets may be used.
	DSNHosts []string

	mu      sync.Mutex
	targets map[string]*probeTarget
}

type probeTarget struct {
	t    *Target
	used time.Time
}

// TargetFunc resolves a probe request. A target outside the auth module's
// targets is refused with 403 before anything is dialled.
func (p *Probes) TargetFunc(r *http.Request) (string, promkit.StartFunc, error) {
	q := r.URL.Query()
	target, module := q.Get("target"), q.Get("auth_module")
	if target == "" {
		return "", nil, errors.New("missing ?target= (host:port/dbname)")
	}
	hostport, db, err := splitTarget(target)
	if err != nil {
		return "", nil, err
	}
	var am config.AuthModule
	if module != "" {
		var ok bool
		if am, ok = p.File().AuthModules[module]; !ok {
			return "", nil, fmt.Errorf("auth_module %q is not in the config file", module)
		}
		if !am.Allows(hostport, p.DSNHosts) {
			return "", nil, &promkit.StatusError{Code: http.StatusForbidden,
				Err: fmt.Errorf("auth_module %q may not be used for %s: add it to the module's targets", module, hostport)}
		}
	}
	key := module + "\x00" + target
	p.mu.Lock()
	defer p.mu.Unlock()
	if pt, ok := p.targets[key]; ok {
		pt.used = time.Now()
		return "probe\x00" + key, pt.t.Start, nil
	}
	cfgDSN, user, password, err := dsn(hostport, db, module, am)
	if err != nil {
		return "", nil, err
	}
	cc, err := config.ConnConfig(cfgDSN, password, p.Conn)
	if err != nil {
		return "", nil, fmt.Errorf("target %q: %w", target, err)
	}
	// Only the module's password: not PGPASSWORD nor ~/.pgpass, which pgx
	// reads for the exporter's own target and which must not go to another.
	cc.Password = password
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

// splitTarget reads host:port/dbname (or a postgres:// URL without
// credentials); the port defaults to 5432.
func splitTarget(target string) (hostport, db string, err error) {
	if strings.Contains(target, "://") {
		u, err := url.Parse(target)
		if err != nil {
			return "", "", fmt.Errorf("target is not a valid URL")
		}
		if u.User != nil {
			return "", "", errors.New("target must not carry credentials: put them in an auth module of the config file")
		}
		target = u.Host + u.Path
	}
	hostport, db, _ = strings.Cut(target, "/")
	if hostport == "" {
		return "", "", errors.New("target has no host")
	}
	if strings.ContainsAny(hostport, "?#@,") {
		return "", "", errors.New("target is not host:port/dbname")
	}
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		hostport = net.JoinHostPort(hostport, "5432")
	}
	host, port, err := net.SplitHostPort(hostport)
	n, perr := strconv.Atoi(port)
	if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
		return "", "", errors.New("target is not host:port/dbname")
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), db, nil
}

// dsn builds a connection string for the target with the auth module's options.
func dsn(hostport, db, module string, am config.AuthModule) (dsn, user, password string, err error) {
	opts := url.Values{}
	if module != "" {
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
