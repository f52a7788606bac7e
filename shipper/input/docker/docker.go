package docker

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/outrigger/outrigger/shipper/event"
)

// Compose labels name a container's project and service.
const (
	ComposeProject = "com.docker.compose.project"
	ComposeService = "com.docker.compose.service"
)

// Config configures the container discovery.
type Config struct {
	// Host is the engine's socket, unix:///var/run/docker.sock by default.
	Host string
	// Labels a container must all have (key or key=value) to be followed.
	Labels []string
	// Refresh is how often containers are listed beside the events (10s).
	Refresh time.Duration
	// CallTimeout bounds one listing with its inspections (10s): an engine
	// that accepts and never answers costs that, not a hang.
	CallTimeout time.Duration
	Logger      *slog.Logger
}

// Container is what a stream is named by.
type Container struct {
	ID, Name, Image, Project, Service string
	LogPath                           string
}

// Containers follows the engine's containers.
type Containers struct {
	cfg Config
	cli *client.Client
	log *slog.Logger

	mu     sync.Mutex
	byPath map[string]Container
	paths  []string
	err    error
}

// New returns the discovery; it does no I/O.
func New(cfg Config) (*Containers, error) {
	if cfg.Host == "" {
		cfg.Host = "unix:///var/run/docker.sock"
	}
	if cfg.Refresh == 0 {
		cfg.Refresh = 10 * time.Second
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cli, err := client.New(client.WithHost(cfg.Host))
	if err != nil {
		return nil, fmt.Errorf("docker client for %s: %w", cfg.Host, err)
	}
	return &Containers{cfg: cfg, cli: cli, log: cfg.Logger, byPath: map[string]Container{}}, nil
}

// Paths returns the json-file logs of the containers followed: running and
// stopped ones (a stopped container's file keeps its position for a
// restart), not removed ones.
func (c *Containers) Paths() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paths
}

// Container returns the container whose log is at path.
func (c *Containers) Container(path string) (Container, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ct, ok := c.byPath[path]
	return ct, ok
}

// Labels returns the stream labels of the container whose log is at path.
func (c *Containers) Labels(path string) []event.Label {
	ct, ok := c.Container(path)
	if !ok {
		return nil
	}
	var out []event.Label
	add := func(k, v string) {
		if v != "" {
			out = append(out, event.Label{Name: k, Value: v})
		}
	}
	add("container", ct.Name)
	add("compose_project", ct.Project)
	add("compose_service", ct.Service)
	add("image", ct.Image)
	return out
}

// Err is the last discovery error (nil when the engine answered).
func (c *Containers) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Containers) filters() client.Filters {
	f := client.Filters{}
	for _, l := range c.cfg.Labels {
		f.Add("label", l)
	}
	return f
}

// Refresh lists the containers and inspects the ones not known yet.
func (c *Containers) Refresh(ctx context.Context) error {
	err := c.refresh(ctx)
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	return err
}

func (c *Containers) refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	list, err := c.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: c.filters()})
	if err != nil {
		return fmt.Errorf("listing containers: %w", err)
	}
	c.mu.Lock()
	known := map[string]Container{}
	for _, ct := range c.byPath {
		known[ct.ID] = ct
	}
	c.mu.Unlock()
	byPath := map[string]Container{}
	for _, s := range list.Items {
		ct, ok := known[s.ID]
		if !ok {
			res, err := c.cli.ContainerInspect(ctx, s.ID, client.ContainerInspectOptions{})
			if err != nil {
				c.log.Warn("inspecting container", "id", short(s.ID), "err", err)
				continue
			}
			in := res.Container
			ct = Container{ID: in.ID, Name: strings.TrimPrefix(in.Name, "/"), LogPath: in.LogPath}
			if in.Config != nil {
				ct.Image = in.Config.Image
				ct.Project, ct.Service = in.Config.Labels[ComposeProject], in.Config.Labels[ComposeService]
			}
			if in.HostConfig != nil && in.HostConfig.LogConfig.Type != "" && in.HostConfig.LogConfig.Type != "json-file" {
				c.log.Warn("container logs with a driver other than json-file are not followed", "container", ct.Name,
					"driver", in.HostConfig.LogConfig.Type)
				continue
			}
			if ct.LogPath == "" {
				continue
			}
			c.log.Info("following container", "container", ct.Name, "service", ct.Service, "id", short(ct.ID))
		}
		byPath[ct.LogPath] = ct
	}
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	c.mu.Lock()
	c.byPath, c.paths = byPath, paths
	c.mu.Unlock()
	return nil
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Run refreshes on every container event and every Refresh interval until
// ctx ends, then closes the client.
func (c *Containers) Run(ctx context.Context) {
	defer c.cli.Close()
	var wg sync.WaitGroup
	kick := make(chan struct{}, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.watch(ctx, kick)
	}()
	defer wg.Wait()
	tick := time.NewTicker(c.cfg.Refresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-kick:
		}
		if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("listing containers", "err", err)
		}
	}
}

// watch follows the engine's container events and kicks a refresh on each;
// it reconnects after a pause when the stream ends.
func (c *Containers) watch(ctx context.Context, kick chan<- struct{}) {
	for ctx.Err() == nil {
		f := c.filters()
		f.Add("type", "container")
		res := c.cli.Events(ctx, client.EventsListOptions{Filters: f})
	loop:
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-res.Messages:
				if !ok {
					break loop
				}
				select {
				case kick <- struct{}{}:
				default:
				}
			case <-res.Err:
				break loop
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}
