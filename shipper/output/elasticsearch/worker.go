package elasticsearch

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/outrigger/outrigger/internal/promkit/backoff"
	"github.com/outrigger/outrigger/shipper/decode"
	"github.com/outrigger/outrigger/shipper/event"
)

// item is one encoded action and document of a batch.
type item struct {
	ev    *event.Event
	index string
	// bad is why the event has no index (nil = it has one): a field the
	// pattern names is missing, or the name built is not valid.
	bad   *badIndex
	idOff int // the _id is body[idOff:idEnd] (empty without a source key)
	idEnd int
	start int // the action line starts here in batch.body
	doc   int // the document starts here
	end   int // after the document's newline
}

// batch is the items of one bulk request, encoded once.
type batch struct {
	items   []item
	body    []byte
	started time.Time
}

type worker struct {
	o       *Output
	in      chan []*event.Event
	reqs    chan *batch
	members []decode.Member
	free    chan *batch
	docs    *DocBuilder // the worker's own (it caches)
	// needMembers: index rules, field references or a custom labels field
	// read the document.
	needMembers bool
	zbuf        bytes.Buffer
	scratch     []byte
	lastSec     int64
	lastIdx     string
}

// collect encodes events into batches by size and age.
func (w *worker) collect() {
	defer w.o.wg.Done()
	defer close(w.reqs)
	var cur *batch
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		if cur != nil {
			w.reqs <- cur
			cur = nil
		}
		timer.Stop()
	}
	for {
		select {
		case evs, ok := <-w.in:
			if !ok {
				flush()
				return
			}
			for _, ev := range evs {
				if cur == nil {
					cur = w.newBatch()
					timer.Reset(w.o.cfg.BatchWait)
				}
				w.encode(cur, ev)
				if len(cur.body) >= w.o.cfg.BatchBytes {
					flush()
				}
			}
		case <-timer.C:
			flush()
		}
	}
}

// badIndex is why a document has no index: the dead letter's error.
type badIndex struct{ typ, reason string }

// indexOf picks the index of a document, or says why there is none.
func (w *worker) indexOf(ev *event.Event, members []decode.Member) (string, *badIndex) {
	o := w.o
	p := o.cfg.Index
	for _, r := range o.cfg.Indices {
		if r.When == nil || r.When(ev.Line) {
			p = r.Index
			break
		}
	}
	if p == o.cfg.Index && p.Static() && len(o.cfg.Indices) == 0 {
		// The common case: one pattern on the date; cache per second.
		sec := ev.TimeNs / 1e9
		if ev.TimeNs < 0 {
			sec--
		}
		if sec == w.lastSec && w.lastIdx != "" {
			return w.lastIdx, nil
		}
		b, _ := p.Append(w.scratch[:0], ev.TimeNs, nil)
		w.lastSec, w.lastIdx = sec, string(b)
		return w.lastIdx, nil
	}
	b, ok := p.Append(w.scratch[:0], ev.TimeNs, members)
	if !ok {
		return "", &badIndex{"index_field_missing", "the index pattern " + p.String() + " names a field the document lacks"}
	}
	name := string(b)
	if p.Static() {
		return name, nil
	}
	if err := ValidIndexName(name); err != nil {
		return "", &badIndex{"invalid_index_name", "the index pattern " + p.String() + " made an invalid name: " + err.Error()}
	}
	return name, nil
}

func (w *worker) encode(b *batch, ev *event.Event) {
	var members []decode.Member
	flags := ev.Doc
	if flags&event.DocObject == 0 || w.needMembers {
		var err error
		members, err = decode.ParseObject(ev.Line, w.members[:0])
		flags = 0
		if err == nil {
			flags = FlagsFor(members, w.docs.LabelsField)
		} else {
			members = members[:0]
		}
		w.members = members
	}
	it := item{ev: ev, start: len(b.body)}
	it.index, it.bad = w.indexOf(ev, members)
	b.body = append(b.body, `{"create":{"_index":`...)
	b.body = decode.AppendString(b.body, it.index)
	if ev.SourceKey != "" {
		b.body = append(b.body, `,"_id":"`...)
		idStart := len(b.body)
		b.body = docID(b.body, ev.SourceKey, ev.Offset)
		it.idOff, it.idEnd = idStart, len(b.body)
		b.body = append(b.body, '"')
	}
	b.body = append(b.body, "}}\n"...)
	it.doc = len(b.body)
	b.body = w.docs.Append(b.body, ev, flags)
	b.body = append(b.body, '\n')
	it.end = len(b.body)
	b.items = append(b.items, it)
}

func (w *worker) send() {
	defer w.o.wg.Done()
	select {
	case <-w.o.setup:
	case <-w.o.ctx.Done():
	}
	for b := range w.reqs {
		w.deliver(b)
		// The events were copied into the body; the batch is reused.
		clear(b.items)
		b.items, b.body = b.items[:0], b.body[:0]
		select {
		case w.free <- b:
		default:
		}
	}
}

// newBatch reuses a delivered batch's buffers (a worker has at most three
// batches: being filled, queued, in flight).
func (w *worker) newBatch() *batch {
	select {
	case b := <-w.free:
		b.started = time.Now()
		return b
	default:
		return &batch{started: time.Now(), body: make([]byte, 0, w.o.cfg.BatchBytes+64<<10)}
	}
}

// deliver sends a batch until every item is done (indexed, already there,
// or dead-lettered) or the output stops (the rest stays unacknowledged).
func (w *worker) deliver(b *batch) {
	o := w.o
	// Items whose index a field reference could not name are rejected here.
	var missing []letter
	var reasons []string
	pending := make([]int, 0, len(b.items))
	for i := range b.items {
		if bad := b.items[i].bad; bad != nil {
			missing = append(missing, w.letterOf(b, i, 0, bad.typ, bad.reason))
			reasons = append(reasons, bad.typ)
			continue
		}
		pending = append(pending, i)
	}
	retry := backoff.New(o.cfg.MinBackoff, o.cfg.MaxBackoff)
	for len(missing) > 0 && !w.deadLetterReasons(b, missing, reasons) {
		if !retry.Wait(o.ctx) {
			return
		}
	}
	w.deliverItems(b, pending)
}

func (w *worker) deliverItems(b *batch, pending []int) {
	o := w.o
	name := o.cfg.Name
	retry := backoff.New(o.cfg.MinBackoff, o.cfg.MaxBackoff)
	path := "/_bulk?filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason,items.*.error.caused_by"
	if o.cfg.Pipeline != "" {
		path += "&pipeline=" + o.cfg.Pipeline
	}
	var body, sub []byte
	for len(pending) > 0 {
		if len(pending) == len(b.items) {
			body = b.body
		} else {
			// Never into b.body itself: the items' bytes live there.
			sub = sub[:0]
			for _, i := range pending {
				sub = append(sub, b.body[b.items[i].start:b.items[i].end]...)
			}
			body = sub
		}
		payload := body
		gz := o.cfg.GzipLevel > 0
		if gz {
			if err := o.compress(&w.zbuf, body); err != nil {
				o.log.Error("compressing bulk request", "err", err)
				gz = false
			} else {
				payload = w.zbuf.Bytes()
			}
		}
		code, resp, err := o.do(o.ctx, http.MethodPost, path, payload, gz)
		if err != nil && o.ctx.Err() != nil {
			return
		}
		reason := ""
		switch {
		case err != nil:
			reason = "network"
			o.m.Requests.WithLabelValues(name, "error").Inc()
			o.setState(fmt.Errorf("elasticsearch output %s: bulk request failed: %s", name, shorten(err.Error())))
		default:
			o.m.Requests.WithLabelValues(name, strconv.Itoa(code/100)+"xx").Inc()
		}
		switch {
		case err != nil:
		case code == http.StatusOK:
			results, perr := parseBulkResponse(resp, len(pending))
			if perr != nil {
				reason = "server_error"
				o.setState(fmt.Errorf("elasticsearch output %s: %w", name, perr))
				break
			}
			o.setState(nil)
			if pending = w.settle(b, pending, results); len(pending) == 0 {
				return
			}
			reason = "" // counted per item
		case code == http.StatusRequestEntityTooLarge || code == http.StatusBadRequest:
			// Too large, or a request the cluster cannot parse: halve it until
			// the offending document is alone, then dead-letter that one.
			o.setState(nil)
			if len(pending) == 1 {
				typ := "too_large"
				msg := "the document alone is larger than the cluster's http.max_content_length"
				if code == http.StatusBadRequest {
					typ, msg = "rejected", wholeError(resp)
				}
				w.deadLetter(b, []letter{w.letterOf(b, pending[0], code, typ, msg)}, typ)
				return
			}
			half := len(pending) / 2
			a, c := append([]int(nil), pending[:half]...), append([]int(nil), pending[half:]...)
			w.deliverItems(b, a)
			w.deliverItems(b, c)
			return
		case code == http.StatusTooManyRequests:
			reason = "rate_limited"
		case code >= 500:
			reason = "server_error"
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			reason = "unauthorized" // stop and alert: retried, never dropped
		default:
			reason = "client_error"
		}
		if reason != "" {
			o.m.Retries.WithLabelValues(name, reason).Inc()
			if err == nil {
				o.setState(fmt.Errorf("elasticsearch output %s: bulk request answered HTTP %d: %s", name, code, shorten(wholeError(resp))))
			}
		}
		if !retry.Wait(o.ctx) {
			return
		}
	}
}

func shorten(s string) string {
	if len(s) > 160 {
		return s[:160]
	}
	return s
}

// settle applies item outcomes: done items are acknowledged, rejected ones
// dead-lettered; it returns the items to retry (429, 5xx, and rejected
// ones whose dead letter could not be written).
func (w *worker) settle(b *batch, pending []int, results []itemResult) []int {
	o := w.o
	name := o.cfg.Name
	var retry []int
	var dead []letter
	var deadReasons []string
	done, dups, bytesDone := 0, 0, 0
	for k, i := range pending {
		r := results[k]
		switch {
		case r.Status >= 200 && r.Status < 300:
			done++
			bytesDone += len(b.items[i].ev.Line)
			b.items[i].ev.Ack.Done(o.index)
		case r.Status == http.StatusConflict && r.Op == "create":
			dups++
			b.items[i].ev.Ack.Done(o.index)
		case r.Status == http.StatusTooManyRequests:
			o.m.Retries.WithLabelValues(name, "item_rate_limited").Inc()
			retry = append(retry, i)
		case r.Status >= 500:
			o.m.Retries.WithLabelValues(name, "item_server_error").Inc()
			retry = append(retry, i)
		default:
			reason := "rejected"
			if strings.Contains(r.Type, "mapper") || strings.Contains(r.Type, "parsing") || strings.Contains(r.Type, "mapping") {
				reason = "mapping_conflict"
			}
			dead = append(dead, w.letterOf(b, i, r.Status, r.Type, r.Reason))
			deadReasons = append(deadReasons, reason)
		}
	}
	o.m.ShippedLines.WithLabelValues(name).Add(float64(done))
	o.m.ShippedBytes.WithLabelValues(name).Add(float64(bytesDone))
	o.m.Duplicates.WithLabelValues(name).Add(float64(dups))
	if len(retry) == 0 && len(dead) == 0 {
		o.m.BatchDuration.WithLabelValues(name).Observe(time.Since(b.started).Seconds())
	}
	if len(dead) > 0 {
		if !w.deadLetterReasons(b, dead, deadReasons) {
			// Not written: retry them with the others; they will be rejected
			// again and written once the file can be.
			for _, l := range dead {
				retry = append(retry, l.item)
			}
		}
	}
	return retry
}

func (w *worker) letterOf(b *batch, i, status int, typ, reason string) letter {
	it := &b.items[i]
	return letter{item: i, index: it.index, id: string(b.body[it.idOff:it.idEnd]), source: it.ev.Source, offset: it.ev.Offset, status: status,
		typ: typ, reason: reason, doc: b.body[it.doc : it.end-1]}
}

func (w *worker) deadLetter(b *batch, ls []letter, reason string) bool {
	reasons := make([]string, len(ls))
	for i := range reasons {
		reasons[i] = reason
	}
	return w.deadLetterReasons(b, ls, reasons)
}

// deadLetterReasons writes rejected documents to the dead-letter file,
// counts them, and acknowledges them; false when the file failed (nothing
// acknowledged then).
func (w *worker) deadLetterReasons(b *batch, ls []letter, reasons []string) bool {
	o := w.o
	name := o.cfg.Name
	kept, err := o.dead.write(name, ls)
	if err != nil {
		o.log.Error("writing dead letters", "output", name, "err", err)
		o.m.Retries.WithLabelValues(name, "dead_letter_error").Inc()
		return false
	}
	for k, l := range ls {
		r := reasons[k]
		if k >= kept {
			r = "dead_letter_full"
		} else {
			o.m.DeadLetters.WithLabelValues(name).Inc()
		}
		o.m.Dropped.WithLabelValues(name, r).Inc()
		b.items[l.item].ev.Ack.Done(o.index)
	}
	if o.dead.path == "" {
		o.log.Warn("documents rejected and no dead-letter file configured", "output", name, "count", len(ls))
	}
	return true
}
