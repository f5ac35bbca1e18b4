package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// Store layout:
//
//	meta/   version → 1 (2 once a route holds ListRanges); header → the Job as JSON
//	routes/ <route>/ state   → RouteState as JSON (with its Ranges, if any)
//	                 objects/ <key> → encoded Entry (without its key)
//	                 counts/  <state byte> → int64, big endian
//
// Route names and keys are stored as given (any bytes); bbolt keeps
// buckets and keys in byte order, so Each and Routes come out sorted.
var (
	bucketMeta    = []byte("meta")
	bucketRoutes  = []byte("routes")
	bucketObjects = []byte("objects")
	bucketCounts  = []byte("counts")
	keyVersion    = []byte("version")
	keyHeader     = []byte("header")
	keyState      = []byte("state")
)

const (
	batchInterval = 50 * time.Millisecond // background commit period
	batchSize     = 1000                  // a batch this big is committed at once
	maxBuffered   = 10 * batchSize        // Finish blocks beyond this (bounded memory)
	eachChunk     = 1024                  // entries read per read transaction in Each
)

type finished struct {
	route string
	e     Entry
}

func checkRoute(route string) error {
	if route == "" || len(route) > bolt.MaxKeySize {
		return fmt.Errorf("%w: route of %d bytes", ErrInvalid, len(route))
	}
	return nil
}

func checkKey(route, key string) error {
	if key == "" || len(key) > bolt.MaxKeySize {
		return fmt.Errorf("%w: route %q: key of %d bytes", ErrInvalid, route, len(key))
	}
	return nil
}

// Entry encoding: version byte, state byte, varint size, varint attempts,
// then ETag, Blob and Reason as uvarint length + bytes.
const entryVersion = 1

func encodeEntry(e Entry) []byte {
	b := make([]byte, 0, 2+4*binary.MaxVarintLen64+len(e.ETag)+len(e.Blob)+len(e.Reason))
	b = append(b, entryVersion, byte(e.State))
	b = binary.AppendVarint(b, e.Size)
	b = binary.AppendVarint(b, int64(e.Attempts))
	for _, s := range [...]string{e.ETag, e.Blob, e.Reason} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func decodeEntry(key, b []byte) (Entry, error) {
	bad := func(what string) (Entry, error) {
		return Entry{}, fmt.Errorf("%w: entry %q: %s", ErrCorrupt, key, what)
	}
	if len(b) < 2 || b[0] != entryVersion {
		return bad("unknown encoding")
	}
	e := Entry{Key: string(key), State: State(b[1])}
	b = b[2:]
	v, n := binary.Varint(b)
	if n <= 0 {
		return bad("size")
	}
	e.Size, b = v, b[n:]
	v, n = binary.Varint(b)
	if n <= 0 {
		return bad("attempts")
	}
	e.Attempts, b = int(v), b[n:]
	for _, p := range [...]*string{&e.ETag, &e.Blob, &e.Reason} {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return bad("string")
		}
		*p, b = string(b[n:n+int(l)]), b[n+int(l):]
	}
	return e, nil
}

// stateOf reads only the state byte of an encoded entry.
func stateOf(b []byte) State {
	if len(b) < 2 {
		return 0
	}
	return State(b[1])
}

// routeBucket returns the route's bucket, creating it (with its objects
// and counts buckets) when create is set; nil if absent and not created.
func routeBucket(tx *bolt.Tx, route string, create bool) (*bolt.Bucket, error) {
	routes := tx.Bucket(bucketRoutes)
	if rb := routes.Bucket([]byte(route)); rb != nil || !create {
		return rb, nil
	}
	rb, err := routes.CreateBucket([]byte(route))
	if err != nil {
		return nil, err
	}
	if _, err := rb.CreateBucket(bucketObjects); err != nil {
		return nil, err
	}
	if _, err := rb.CreateBucket(bucketCounts); err != nil {
		return nil, err
	}
	return rb, nil
}

func addCounts(rb *bolt.Bucket, delta *[Failed + 1]int64) error {
	cb := rb.Bucket(bucketCounts)
	for s := Pending; s <= Failed; s++ {
		if delta[s] == 0 {
			continue
		}
		k := []byte{byte(s)}
		var n int64
		if v := cb.Get(k); len(v) == 8 {
			n = int64(binary.BigEndian.Uint64(v))
		}
		if err := cb.Put(k, binary.BigEndian.AppendUint64(nil, uint64(n+delta[s]))); err != nil {
			return err
		}
	}
	return nil
}

func readRouteState(rb *bolt.Bucket) (RouteState, error) {
	var rs RouteState
	if rb == nil {
		return rs, nil
	}
	if v := rb.Get(keyState); v != nil {
		if err := json.Unmarshal(v, &rs); err != nil {
			return rs, fmt.Errorf("%w: route state: %w", ErrCorrupt, err)
		}
	}
	return rs, nil
}

// Route returns the listing progress of a route; a route never recorded
// gives the zero RouteState (start listing from the beginning).
func (j *Journal) Route(route string) (RouteState, error) {
	var rs RouteState
	err := j.view(func(tx *bolt.Tx) error {
		rb, err := routeBucket(tx, route, false)
		if err != nil {
			return err
		}
		rs, err = readRouteState(rb)
		return err
	})
	return rs, err
}

// RecordPage records one listing page of a route in one durable
// transaction: each object whose key the route does not hold yet is stored
// as Pending (whatever its State field says); a key already recorded keeps
// its entry untouched (a resumed or repeated listing re-sees objects).
// The route's Token becomes next, Done becomes next == "", Pages grows by
// one and Objects by len(objs). Call it before dispatching the page's
// objects. A route listed in ranges (RecordRanges) takes RecordRangePage
// instead: RecordPage refuses it (ErrInvalid).
func (j *Journal) RecordPage(route string, objs []Entry, next string) error {
	return j.recordPage(route, objs, func(rs *RouteState) error {
		if len(rs.Ranges) > 0 {
			return fmt.Errorf("%w: route %q is listed in ranges", ErrInvalid, route)
		}
		rs.Token, rs.Done = next, next == ""
		return nil
	})
}

// RecordRanges makes the rest of a route's listing a partitioned one:
// ranges (at least two) cover the key space in order, the first with
// After "", the last with Until "", each range's Until the next one's
// After, every bound valid UTF-8 (ranges are stored as JSON). Their Token
// and Done are ignored: the first range continues from the route's Token
// (the listing so far was one stream, or nothing when no page is recorded
// yet), the others have listed nothing yet. So the caller must put every
// key already listed in the first range. A route that is Done or already
// in ranges is refused (ErrInvalid).
// Durable when it returns; from then on the route's pages are recorded
// with RecordRangePage, and Route returns the ranges with their progress.
// The store's format becomes 2 (see Open).
func (j *Journal) RecordRanges(route string, ranges []ListRange) error {
	if err := checkRoute(route); err != nil {
		return err
	}
	if len(ranges) < 2 || ranges[0].After != "" || ranges[len(ranges)-1].Until != "" {
		return fmt.Errorf("%w: route %q: %d ranges that do not cover the key space", ErrInvalid, route, len(ranges))
	}
	rgs := make([]ListRange, len(ranges))
	for i, r := range ranges {
		if i > 0 && (r.After == "" || r.After != ranges[i-1].Until || i > 1 && r.After <= ranges[i-1].After) {
			return fmt.Errorf("%w: route %q: range %d (after %q) does not follow range %d (after %q until %q)",
				ErrInvalid, route, i, r.After, i-1, ranges[i-1].After, ranges[i-1].Until)
		}
		if !utf8.ValidString(r.After) || !utf8.ValidString(r.Until) {
			return fmt.Errorf("%w: route %q: range %d bounds are not UTF-8", ErrInvalid, route, i)
		}
		rgs[i] = ListRange{After: r.After, Until: r.Until}
	}
	return j.update(func(tx *bolt.Tx) error {
		rb, err := routeBucket(tx, route, true)
		if err != nil {
			return err
		}
		rs, err := readRouteState(rb)
		if err != nil {
			return err
		}
		if rs.Done || len(rs.Ranges) > 0 {
			return fmt.Errorf("%w: route %q: ranges of a listing that is done or in ranges already", ErrInvalid, route)
		}
		rgs[0].Token = rs.Token
		rs.Token = ""
		rs.Ranges = rgs
		v, err := json.Marshal(rs)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketMeta).Put(keyVersion, []byte{formatRanges}); err != nil {
			return err
		}
		return rb.Put(keyState, v)
	})
}

// RecordRangePage is RecordPage for range i of a route listed in ranges:
// in one durable transaction the page's new keys are stored as Pending and
// the range's Token becomes next, its Done next == "" (pass "" when the
// range ends, at its Until or at the end of the listing); the route is Done
// when every range is. Pages and Objects grow as with RecordPage. Calls
// for different ranges may run concurrently.
func (j *Journal) RecordRangePage(route string, i int, objs []Entry, next string) error {
	return j.recordPage(route, objs, func(rs *RouteState) error {
		if i < 0 || i >= len(rs.Ranges) || rs.Ranges[i].Done {
			return fmt.Errorf("%w: route %q has no range %d to record (%d ranges)", ErrInvalid, route, i, len(rs.Ranges))
		}
		rs.Ranges[i].Token, rs.Ranges[i].Done = next, next == ""
		rs.Done = true
		for _, r := range rs.Ranges {
			rs.Done = rs.Done && r.Done
		}
		return nil
	})
}

// recordPage stores objs as Pending where new and updates the route's
// state with progress, in one transaction.
func (j *Journal) recordPage(route string, objs []Entry, progress func(*RouteState) error) error {
	if err := checkRoute(route); err != nil {
		return err
	}
	for _, o := range objs {
		if err := checkKey(route, o.Key); err != nil {
			return err
		}
	}
	return j.update(func(tx *bolt.Tx) error {
		rb, err := routeBucket(tx, route, true)
		if err != nil {
			return err
		}
		rs, err := readRouteState(rb)
		if err != nil {
			return err
		}
		if err := progress(&rs); err != nil {
			return err
		}
		ob := rb.Bucket(bucketObjects)
		var delta [Failed + 1]int64
		for _, o := range objs {
			k := []byte(o.Key)
			if ob.Get(k) != nil {
				continue
			}
			o.State = Pending
			if err := ob.Put(k, encodeEntry(o)); err != nil {
				return err
			}
			delta[Pending]++
		}
		if err := addCounts(rb, &delta); err != nil {
			return err
		}
		rs.Pages++
		rs.Objects += int64(len(objs))
		v, err := json.Marshal(rs)
		if err != nil {
			return err
		}
		return rb.Put(keyState, v)
	})
}

// Finish records an object's new state (any state, Pending included, e.g.
// to count an attempt), replacing its entry. It is buffered: the
// background writer commits batches every ~50 ms or 1,000 entries; Flush
// makes everything Finish'ed so far durable. When the writer falls far
// behind (10,000 entries waiting), Finish blocks until it catches up.
//
// Finish cannot fail by itself: an invalid route, key or state stops the
// journal as a failed write would, and the error is reported by the next
// Flush (and every later write). Finish after Close is ignored. Safe for
// concurrent use; for one key, the last Finish wins.
func (j *Journal) Finish(route string, e Entry) {
	bad := checkRoute(route)
	if bad == nil {
		bad = checkKey(route, e.Key)
	}
	if bad == nil && !e.State.valid() {
		bad = fmt.Errorf("%w: route %q key %q: state %d", ErrInvalid, route, e.Key, uint8(e.State))
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if bad != nil {
		if j.err == nil {
			j.err = fmt.Errorf("journal: job %s: Finish: %w", j.id, bad)
			j.cond.Broadcast()
		}
		return
	}
	for len(j.buf) >= maxBuffered && j.err == nil && !j.closed {
		j.cond.Wait()
	}
	if j.err != nil || j.closed {
		return
	}
	j.buf = append(j.buf, finished{route, e})
	if len(j.buf) >= batchSize {
		select {
		case j.kick <- struct{}{}:
		default:
		}
	}
}

// Flush commits every entry Finish'ed before the call; they are durable
// when it returns nil. It returns the journal's first write error, if any.
func (j *Journal) Flush() error {
	j.mu.Lock()
	closed := j.closed
	j.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return j.commit()
}

func (j *Journal) writer() {
	defer close(j.done)
	t := time.NewTicker(batchInterval)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
		case <-j.kick:
		}
		_ = j.commit() // an error is sticky: Flush and Close report it
	}
}

// commit takes the whole buffer and writes it in one transaction. commitMu
// makes batches commit in the order they were taken, so a later Finish of
// a key always lands after an earlier one, and a Flush that acquires it
// knows every earlier batch has been committed (or has failed).
func (j *Journal) commit() error {
	j.commitMu.Lock()
	defer j.commitMu.Unlock()
	return j.commitLocked()
}

func (j *Journal) commitLocked() error {
	j.mu.Lock()
	batch, err, closed := j.buf, j.err, j.closed
	j.buf = nil
	j.cond.Broadcast()
	j.mu.Unlock()
	if err != nil || len(batch) == 0 {
		return err
	}
	if closed {
		return ErrClosed
	}
	err = j.db.Update(func(tx *bolt.Tx) error {
		type routeTx struct {
			rb, ob *bolt.Bucket
			delta  [Failed + 1]int64
		}
		seen := map[string]*routeTx{}
		for _, f := range batch {
			r := seen[f.route]
			if r == nil {
				rb, err := routeBucket(tx, f.route, true)
				if err != nil {
					return err
				}
				r = &routeTx{rb: rb, ob: rb.Bucket(bucketObjects)}
				seen[f.route] = r
			}
			k := []byte(f.e.Key)
			if old := r.ob.Get(k); old != nil {
				r.delta[stateOf(old)]--
			}
			r.delta[f.e.State]++
			if err := r.ob.Put(k, encodeEntry(f.e)); err != nil {
				return err
			}
		}
		for _, r := range seen {
			if err := addCounts(r.rb, &r.delta); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return j.fail(fmt.Errorf("committing %d entries: %w", len(batch), err))
	}
	return nil
}

func (j *Journal) view(fn func(*bolt.Tx) error) error {
	j.mu.Lock()
	closed := j.closed
	j.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if err := j.db.View(fn); err != nil {
		return fmt.Errorf("journal: job %s: %w", j.id, err)
	}
	return nil
}

// Get returns a route's entry for key, and whether it exists. Like Each
// and Counts it reads what is committed: entries still buffered by Finish
// are seen after the next batch or Flush.
func (j *Journal) Get(route, key string) (Entry, bool, error) {
	var e Entry
	var ok bool
	err := j.view(func(tx *bolt.Tx) error {
		rb, err := routeBucket(tx, route, false)
		if rb == nil || err != nil || key == "" {
			return err
		}
		v := rb.Bucket(bucketObjects).Get([]byte(key))
		if v == nil {
			return nil
		}
		e, err = decodeEntry([]byte(key), v)
		ok = err == nil
		return err
	})
	return e, ok, err
}

// Each calls fn for every entry of the route whose state is in states
// (every entry when states is empty), in key byte order, and stops at the
// first error fn returns, returning it. It streams: entries are read in
// chunks of about a thousand, each in its own short read transaction, and
// fn runs outside any transaction. fn should not write to the journal (the
// contract the pipeline relies on); if it does (Finish), an entry changed
// during the walk is seen in either its old or its new state, never twice.
func (j *Journal) Each(route string, states []State, fn func(Entry) error) error {
	var want [256]bool
	for _, s := range states {
		want[s] = true
	}
	all := len(states) == 0
	var after []byte // last key seen; nil before the first chunk
	chunk := make([]Entry, 0, eachChunk)
	for {
		chunk = chunk[:0]
		more := false
		err := j.view(func(tx *bolt.Tx) error {
			rb, err := routeBucket(tx, route, false)
			if rb == nil || err != nil {
				return err
			}
			c := rb.Bucket(bucketObjects).Cursor()
			var k, v []byte
			if after == nil {
				k, v = c.First()
			} else if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
				k, v = c.Next()
			}
			for ; k != nil; k, v = c.Next() {
				if len(chunk) == eachChunk {
					more = true
					break
				}
				after = append(after[:0], k...)
				if !all && !want[stateOf(v)] {
					continue
				}
				e, err := decodeEntry(k, v)
				if err != nil {
					return err
				}
				chunk = append(chunk, e)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range chunk {
			if err := fn(e); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
	}
}

// Counts returns how many entries of the route are in each state (states
// with none are absent). The counts are kept in the same transactions as
// the entries, so they equal a scan of the committed entries.
func (j *Journal) Counts(route string) (map[State]int64, error) {
	m := map[State]int64{}
	err := j.view(func(tx *bolt.Tx) error {
		rb, err := routeBucket(tx, route, false)
		if rb == nil || err != nil {
			return err
		}
		return rb.Bucket(bucketCounts).ForEach(func(k, v []byte) error {
			if len(k) != 1 || len(v) != 8 {
				return fmt.Errorf("%w: count %q", ErrCorrupt, k)
			}
			if n := int64(binary.BigEndian.Uint64(v)); n != 0 {
				m[State(k[0])] = n
			}
			return nil
		})
	})
	return m, err
}

// Routes returns the names of every route recorded (by RecordPage or
// Finish), in byte order.
func (j *Journal) Routes() ([]string, error) {
	var rs []string
	err := j.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoutes).ForEach(func(k, _ []byte) error {
			rs = append(rs, string(k))
			return nil
		})
	})
	return rs, err
}
