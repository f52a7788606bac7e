package registry

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestConcurrentSavesNeverGoBack: the flush loop and the tailers call Save
// at once; the file's offset never goes back and ends at the last commit.
func TestConcurrentSavesNeverGoBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.json")
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r.Put(Entry{ID: "a", Path: "/app/logs/app.log"})
	read := func() int64 {
		b, err := os.ReadFile(path)
		if err != nil {
			return 0
		}
		var f file
		if err := json.Unmarshal(b, &f); err != nil {
			t.Errorf("registry file is not JSON: %v", err)
			return 0
		}
		return f.Entries[0].Offset
	}
	var mu sync.Mutex
	var last int64
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		var seen int64
		for {
			select {
			case <-stop:
				return
			default:
			}
			o := read()
			if o < seen {
				t.Errorf("registry offset went back from %d to %d", seen, o)
				return
			}
			seen = o
		}
	}()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 40 {
				mu.Lock()
				last++
				r.Commit("a", last, nil)
				mu.Unlock()
				if err := r.Save(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-watched
	if got := read(); got != last {
		t.Errorf("registry file holds offset %d, the last commit was %d", got, last)
	}
}
