package walk

import (
	"context"
	"sync"
	"testing"
)

// A mountinfo sample from a container host: the root on ext4, a tmpfs, an
// NFS share and a FUSE mount, and a mount point with a space.
const sampleMountinfo = `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
24 22 0:22 / /tmp rw,nosuid,nodev shared:13 - tmpfs tmpfs rw,size=8192k
30 22 0:40 / /srv/shots/archive rw,relatime shared:20 - nfs4 fs1:/archive rw,vers=4.2
31 22 0:41 / /home/me/My\040Drive rw,nosuid,nodev,relatime shared:21 - fuse.rclone drive: rw
32 22 254:1 / /data rw,relatime shared:22 master:3 - xfs /dev/vdb rw
`

func TestMountsAllowRaw(t *testing.T) {
	mounts := parseMountinfo([]byte(sampleMountinfo))
	if len(mounts) != 6 || mounts[4].point != "/home/me/My Drive" || mounts[4].fstype != "fuse.rclone" {
		t.Fatalf("parsed %+v", mounts)
	}
	for _, tc := range []struct {
		root string
		want bool
	}{
		{"/data", true},                 // xfs
		{"/data/shots", true},           // inside xfs
		{"/tmp/x", true},                // tmpfs
		{"/var/log", true},              // on the ext4 root
		{"/srv/shots", false},           // an NFS mount below
		{"/srv/shots/archive/a", false}, // inside NFS
		{"/home/me", false},             // a FUSE mount below
		{"/home/me/My", true},           // a sibling of the FUSE mount point
		{"/", false},                    // everything, NFS included
		{"/proc/1", false},              // proc is not a disk
	} {
		if got := mountsAllowRaw(mounts, tc.root); got != tc.want {
			t.Errorf("%s: raw allowed %v, want %v", tc.root, got, tc.want)
		}
	}
	// A filesystem mounted over another at the same place: both must be local.
	over := parseMountinfo([]byte(sampleMountinfo + "40 32 0:50 / /data rw - nfs srv:/d rw\n"))
	if mountsAllowRaw(over, "/data/shots") {
		t.Error("raw allowed under an NFS mount over /data")
	}
	// A line that cannot be read refuses everything.
	if mountsAllowRaw(parseMountinfo([]byte(sampleMountinfo+"garbage\n")), "/data") {
		t.Error("raw allowed with a malformed mountinfo line")
	}
	if mountsAllowRaw(nil, "/data") {
		t.Error("raw allowed without any mount")
	}
}

// A wrapped FS (tests, or anything not the kernel's) never gets the fast path.
func TestRawOnlyForTheRealFS(t *testing.T) {
	tree := sharedTree(t)
	if !rawAllowed(t.Context(), OS{}, tree.root) {
		t.Fatalf("the fast path is refused for %s: the tests need it on a local filesystem", tree.root)
	}
	if rawAllowed(t.Context(), &hookFS{}, tree.root) {
		t.Error("fast path allowed through a wrapped FS")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if rawAllowed(ctx, OS{}, tree.root) {
		t.Error("fast path allowed after the walk's context ended")
	}
	res := mustWalk(t, tree.root, Options{Workers: 2, RawSlots: NewRawSlots(2), FS: &hookFS{}})
	if res.rawWorkers != 0 {
		t.Errorf("%d raw workers through a wrapped FS", res.rawWorkers)
	}
}

// Raw slots are shared by concurrent walks: never more out than there are.
func TestRawSlotsBoundConcurrentWalks(t *testing.T) {
	tree := sharedTree(t)
	slots := NewRawSlots(3)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 4 {
		wg.Go(func() {
			res := mustWalk(t, tree.root, Options{Workers: 2, RawSlots: slots})
			mu.Lock()
			total += res.rawWorkers
			mu.Unlock()
		})
	}
	wg.Wait()
	if slots.used.Load() != 0 {
		t.Errorf("%d slots still out", slots.used.Load())
	}
	if total == 0 {
		t.Error("no walk got a raw slot")
	}
	if got := slots.acquire(5); got != 3 {
		t.Errorf("acquired %d of 3 free slots", got)
	}
	if got := slots.acquire(1); got != 0 {
		t.Errorf("acquired %d slots with none free", got)
	}
	slots.release(3)
	var none *RawSlots
	if none.acquire(2) != 0 || NewRawSlots(-1).acquire(1) != 0 {
		t.Error("nil or empty slots handed one out")
	}
}

// FuzzParseMountinfo: whatever the kernel (or a broken /proc) hands over, the
// parser does not panic, and a mount it cannot read never allows the fast path.
func FuzzParseMountinfo(f *testing.F) {
	f.Add([]byte(sampleMountinfo), "/data")
	f.Add([]byte("1 0 0:1 / / rw - ext4 /dev/a rw\n2 1 0:2 / /a\\040b rw - nfs x rw\n"), "/a b")
	f.Add([]byte("1 2 3\n"), "/")
	f.Fuzz(func(t *testing.T, data []byte, root string) {
		mounts := parseMountinfo(data)
		if !mountsAllowRaw(mounts, root) {
			return
		}
		for _, m := range mounts {
			if m.point == "" {
				t.Fatalf("allowed with an unreadable line: %+v", mounts)
			}
			if under(root, m.point) && !isRawFilesystem(m.fstype) {
				t.Fatalf("allowed with a non-local mount %+v below %q", m, root)
			}
		}
	})
}
