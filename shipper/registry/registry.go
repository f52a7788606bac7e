package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Entry is the state of one file.
type Entry struct {
	// ID is unique per file identity for the registry's lifetime.
	ID string `json:"id"`
	// Key names the content for outputs that need a stable record identity
	// (document ids): the ID, or for a copytruncate copy the original's key.
	Key string `json:"key,omitempty"`
	// Path is where the file was found first; it names its stream even after
	// the file was renamed by rotation.
	Path  string `json:"path"`
	Dev   uint64 `json:"dev"`
	Inode uint64 `json:"inode"`
	// FingerprintLen bytes at the file's start hash to Fingerprint.
	FingerprintLen int    `json:"fingerprint_len"`
	Fingerprint    string `json:"fingerprint"`
	// Offset is committed: every output acknowledged every line before it.
	Offset int64 `json:"offset"`
	// Outputs is each output's own acknowledged offset (>= Offset), so that a
	// restart resends a line only to the outputs that lack it.
	Outputs map[string]int64 `json:"outputs,omitempty"`
	Updated time.Time        `json:"updated"`
	// Ended is set when the file's content at this identity is gone
	// (truncated or replaced): the entry is kept a while only to recognise
	// a copy made by copytruncate, never to resume by inode.
	Ended time.Time `json:"ended,omitzero"`
}

type file struct {
	Version int      `json:"version"`
	Entries []*Entry `json:"entries"`
}

// Registry is the in-memory registry and its file.
type Registry struct {
	path string

	// saveMu serializes Save: the snapshot taken first is written first,
	// so an older snapshot never replaces a newer one.
	saveMu  sync.Mutex
	mu      sync.Mutex
	entries map[string]*Entry
	dirty   bool
	saved   time.Time
}

// Open loads the registry at path (an absent file is an empty registry).
func Open(path string) (*Registry, error) {
	r := &Registry{path: path, entries: map[string]*Entry{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading registry: %w", err)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("decoding registry %s: %w", path, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("registry %s: unknown version %d", path, f.Version)
	}
	for _, e := range f.Entries {
		if e.ID != "" {
			r.entries[e.ID] = e
		}
	}
	if st, err := os.Stat(path); err == nil {
		r.saved = st.ModTime()
	}
	return r, nil
}

// Entries returns copies of every entry.
func (r *Registry) Entries() []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Entry, 0, len(r.entries))
	for _, e := range r.entries {
		out = append(out, e.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (e *Entry) clone() Entry {
	c := *e
	if e.Outputs != nil {
		c.Outputs = make(map[string]int64, len(e.Outputs))
		for k, v := range e.Outputs {
			c.Outputs[k] = v
		}
	}
	return c
}

// Put stores a copy of e.
func (r *Registry) Put(e Entry) {
	c := e.clone()
	c.Updated = time.Now().UTC()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries[e.ID] = &c
	r.dirty = true
}

// Commit records the committed offset and per-output offsets of entry id,
// if the entry still exists.
func (r *Registry) Commit(id string, offset int64, outputs map[string]int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[id]
	if e == nil {
		return
	}
	e.Offset = offset
	if outputs != nil {
		if e.Outputs == nil {
			e.Outputs = map[string]int64{}
		}
		for k, v := range outputs {
			e.Outputs[k] = v
		}
	}
	e.Updated = time.Now().UTC()
	r.dirty = true
}

// CommitOutput records that output acknowledged entry id up to offset
// (never moving it back), leaving the committed offset alone.
func (r *Registry) CommitOutput(id, output string, offset int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[id]
	if e == nil || offset <= e.Outputs[output] {
		return
	}
	if e.Outputs == nil {
		e.Outputs = map[string]int64{}
	}
	e.Outputs[output] = offset
	e.Updated = time.Now().UTC()
	r.dirty = true
}

// UpdateFingerprint records a longer fingerprint of entry id.
func (r *Registry) UpdateFingerprint(id string, n int, fp string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.entries[id]; e != nil {
		e.FingerprintLen, e.Fingerprint = n, fp
		r.dirty = true
	}
}

// MarkEnded flags entry id as ended (see Entry.Ended).
func (r *Registry) MarkEnded(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.entries[id]; e != nil && e.Ended.IsZero() {
		e.Ended = time.Now().UTC()
		r.dirty = true
	}
}

// Delete forgets entry id.
func (r *Registry) Delete(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.entries[id]; ok {
		delete(r.entries, id)
		r.dirty = true
	}
}

// SavedAt is when the file was last written (zero if never).
func (r *Registry) SavedAt() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.saved
}

// Save writes the registry atomically if it changed since the last save.
func (r *Registry) Save() error {
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	r.mu.Lock()
	if !r.dirty {
		r.mu.Unlock()
		return nil
	}
	f := file{Version: 1}
	for _, e := range r.entries {
		c := e.clone()
		f.Entries = append(f.Entries, &c)
	}
	r.dirty = false
	r.mu.Unlock()
	sort.Slice(f.Entries, func(i, j int) bool { return f.Entries[i].ID < f.Entries[j].ID })
	b, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return fmt.Errorf("encoding registry: %w", err)
	}
	if err := WriteAtomic(r.path, b); err != nil {
		r.mu.Lock()
		r.dirty = true
		r.mu.Unlock()
		return err
	}
	r.mu.Lock()
	r.saved = time.Now()
	r.mu.Unlock()
	return nil
}

// WriteAtomic replaces path with data so that a crash at any moment leaves
// either the old or the new content: temporary file, fsync, rename, fsync
// of the directory.
func WriteAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating temporary registry file: %w", err)
	}
	name := tmp.Name()
	cleanup := func() { tmp.Close(); os.Remove(name) }
	if _, err := tmp.Write(data); err != nil {
		cleanup()
		return fmt.Errorf("writing registry: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		cleanup()
		return fmt.Errorf("syncing registry: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("closing registry: %w", err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("renaming registry into place: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening registry directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing registry directory: %w", err)
	}
	return nil
}
