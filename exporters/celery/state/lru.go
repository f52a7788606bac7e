package state

import (
	"crypto/sha256"
	"encoding/hex"
)

// taskKey is a task id in 16 bytes: the UUID itself, or a hash of other ids.
type taskKey [16]byte

func keyOf(id string) taskKey {
	var k taskKey
	if len(id) == 36 && id[8] == '-' && id[13] == '-' && id[18] == '-' && id[23] == '-' {
		var buf [32]byte
		copy(buf[0:8], id[0:8])
		copy(buf[8:12], id[9:13])
		copy(buf[12:16], id[14:18])
		copy(buf[16:20], id[19:23])
		copy(buf[20:32], id[24:36])
		if _, err := hex.Decode(k[:], buf[:]); err == nil {
			return k
		}
	}
	h := sha256.Sum256([]byte(id))
	copy(k[:], h[:16])
	k[6] = 0xff // never a valid UUID version: no clash with a parsed UUID
	return k
}

// task is what the exporter remembers about a task in flight.
type task struct {
	key        taskKey
	name       uint32 // index into Tracker.strs
	queue      uint32
	sent       float64 // task-sent timestamp (sender clock), 0 unknown
	received   bool    // a worker received it
	eta        float64 // Unix seconds, 0 none
	touched    int64   // local Unix nanoseconds of the last event
	prev, next int32
}

// lru is a fixed-capacity map of tasks with least-recently-touched eviction,
// laid out in one slice so it costs the GC nothing per entry.
type lru struct {
	idx        map[taskKey]int32
	items      []task
	free       []int32
	head, tail int32 // head: most recent
	capacity   int
}

func newLRU(capacity int) *lru {
	return &lru{idx: make(map[taskKey]int32), head: -1, tail: -1, capacity: capacity}
}

func (l *lru) len() int { return len(l.idx) }

func (l *lru) get(k taskKey) *task {
	if i, ok := l.idx[k]; ok {
		return &l.items[i]
	}
	return nil
}

// touch returns the entry for k, creating it (and evicting the oldest when
// full), and makes it the most recent. evicted reports an eviction.
func (l *lru) touch(k taskKey, now int64) (t *task, evicted bool) {
	if i, ok := l.idx[k]; ok {
		l.unlink(i)
		l.pushFront(i)
		l.items[i].touched = now
		return &l.items[i], false
	}
	if len(l.idx) >= l.capacity && l.tail >= 0 {
		l.remove(l.tail)
		evicted = true
	}
	var i int32
	if n := len(l.free); n > 0 {
		i, l.free = l.free[n-1], l.free[:n-1]
	} else {
		l.items = append(l.items, task{})
		i = int32(len(l.items) - 1)
	}
	l.items[i] = task{key: k, touched: now, prev: -1, next: -1}
	l.idx[k] = i
	l.pushFront(i)
	return &l.items[i], evicted
}

func (l *lru) delete(k taskKey) {
	if i, ok := l.idx[k]; ok {
		l.remove(i)
	}
}

// expire removes entries not touched since before cutoff, oldest first.
func (l *lru) expire(cutoff int64) int {
	n := 0
	for l.tail >= 0 && l.items[l.tail].touched < cutoff {
		l.remove(l.tail)
		n++
	}
	return n
}

func (l *lru) remove(i int32) {
	l.unlink(i)
	delete(l.idx, l.items[i].key)
	l.items[i] = task{prev: -1, next: -1}
	l.free = append(l.free, i)
}

func (l *lru) unlink(i int32) {
	it := &l.items[i]
	if it.prev >= 0 {
		l.items[it.prev].next = it.next
	} else if l.head == i {
		l.head = it.next
	}
	if it.next >= 0 {
		l.items[it.next].prev = it.prev
	} else if l.tail == i {
		l.tail = it.prev
	}
	it.prev, it.next = -1, -1
}

func (l *lru) pushFront(i int32) {
	it := &l.items[i]
	it.prev, it.next = -1, l.head
	if l.head >= 0 {
		l.items[l.head].prev = i
	}
	l.head = i
	if l.tail < 0 {
		l.tail = i
	}
}
