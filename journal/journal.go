package journal

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// LockTimeout is how long Open and Create wait for the store's file lock
// before reporting that another process has the job open.
const LockTimeout = time.Second

const (
	dbName  = "journal.db"
	jobName = "job.json"

	// formatVersion is the store format Create writes. A store holding a
	// partitioned listing (RecordRanges) is formatRanges, so that a build
	// that predates ranges refuses it instead of listing the route again
	// from its start; Open reads both.
	formatVersion = 1
	formatRanges  = 2
)

// Errors the package returns, wrapped with details; test with errors.Is.
var (
	ErrNotFound = errors.New("journal: job not found")                   // also matches fs.ErrNotExist
	ErrExists   = errors.New("journal: job already exists")              // also matches fs.ErrExist
	ErrLocked   = errors.New("journal: job is open in another process")  // lock not acquired within LockTimeout
	ErrClosed   = errors.New("journal: closed")                          // use after Close
	ErrInvalid  = errors.New("journal: invalid argument")                // bad id, route, key or state
	ErrCorrupt  = errors.New("journal: unreadable or unsupported store") // format not understood
)

// State is the state of one object in the journal.
type State uint8

// Object states. The zero value is not a valid state.
const (
	Pending State = iota + 1 // listed, not finished
	Copied                   // arrived at the destination
	Skipped                  // deliberately not copied (Entry.Reason says why)
	Failed                   // gave up (Entry.Reason says why)
)

var stateNames = [...]string{Pending: "pending", Copied: "copied", Skipped: "skipped", Failed: "failed"}

// String returns the lower-case name of s ("pending", ...), or "State(N)".
func (s State) String() string {
	if s.valid() {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

func (s State) valid() bool { return s >= Pending && s <= Failed }

// MarshalText makes states (and maps keyed by state, like Counts) encode
// as their names in JSON.
func (s State) MarshalText() ([]byte, error) {
	if !s.valid() {
		return nil, fmt.Errorf("%w: state %d", ErrInvalid, uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText is the inverse of MarshalText.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n != "" && n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("%w: state %q", ErrInvalid, b)
}

// JobState is the state of a whole job.
type JobState string

// Job states.
const (
	JobRunning     JobState = "running"
	JobDone        JobState = "done"
	JobFailed      JobState = "failed"
	JobInterrupted JobState = "interrupted"
)

// Job is a job's header.
//
// The journal stores Args and Options verbatim, on disk, for the life of
// the job folder: the caller must have removed every secret (keys, SAS
// tokens, presigned URLs, passwords) before handing them over.
type Job struct {
	ID               string // e.g. "20261121T054812-3fa9c2" (sortable time + random); see NewID
	Created, Updated time.Time
	Command          string          // "copy", "sync"...
	Args             []string        `json:",omitempty"` // the command line, secrets already removed by the caller
	Options          json.RawMessage `json:",omitempty"` // the typed options, no secrets
	State            JobState
	Summary          json.RawMessage `json:",omitempty"` // the final summary, set at the end
}

func (j Job) clone() Job {
	j.Args = append([]string(nil), j.Args...)
	j.Options = bytes.Clone(j.Options)
	j.Summary = bytes.Clone(j.Summary)
	return j
}

// Entry is one object of a route.
type Entry struct {
	Key      string
	Size     int64
	ETag     string
	State    State
	Blob     string // destination blob name, once decided
	Attempts int
	Reason   string // why skipped or failed
}

// RouteState is the listing progress of one route.
type RouteState struct {
	Token   string // continuation token after the last recorded page (one stream)
	Done    bool   // listing finished
	Pages   int64  // pages recorded
	Objects int64  // objects in those pages, as listed (re-listed keys count again)
	// Ranges, when set, are the key ranges of a partitioned listing
	// (RecordRanges), each with its own progress; Token is then unused and
	// Done says every range is done.
	Ranges []ListRange `json:",omitempty"`
}

// ListRange is one key range of a partitioned listing: the keys that sort
// after After ("" = from the first key) and not after Until ("" = to the
// last key), listed as one stream of its own.
type ListRange struct {
	After string `json:",omitempty"`
	Until string `json:",omitempty"`
	// Token continues the range after its last recorded page; "" when none
	// is recorded yet (the range starts with a listing after After).
	Token string `json:",omitempty"`
	Done  bool   `json:",omitempty"` // the range is listed to its end
}

// NewID returns a job id: now in UTC to the second, then 6 random hex
// digits, e.g. "20261121T054812-3fa9c2". Ids sort by creation time.
func NewID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// validID accepts ids that are one plain path element: letters, digits,
// '.', '-', '_', and not "." or "..".
func validID(id string) error {
	if id == "" || id == "." || id == ".." || len(id) > 128 {
		return fmt.Errorf("%w: job id %q", ErrInvalid, id)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_'
		if !ok {
			return fmt.Errorf("%w: job id %q: only letters, digits, '.', '-' and '_'", ErrInvalid, id)
		}
	}
	return nil
}

// Journal is one open job. Its methods are safe for concurrent use.
type Journal struct {
	dir string // the job's folder
	id  string // the job's id (immutable)
	db  *bolt.DB

	hdrMu sync.Mutex // serialises header changes (store, then job.json)
	job   Job

	commitMu sync.Mutex // held while a batch is taken and committed: batches commit in order

	mu      sync.Mutex
	cond    *sync.Cond // signalled when the buffer is taken or the journal fails/closes
	buf     []finished
	err     error // sticky: first failed commit
	closing bool  // Close has begun
	closed  bool  // the store is closed

	kick chan struct{} // a full batch waits
	stop chan struct{} // closed by Close
	done chan struct{} // closed when the writer exits
}

func boltOptions() *bolt.Options {
	return &bolt.Options{Timeout: LockTimeout, FreelistType: bolt.FreelistMapType}
}

func openDB(path, id string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, boltOptions())
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("%w: job %s (%s is locked; still locked after %v)", ErrLocked, id, path, LockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("journal: job %s: opening %s: %w", id, path, err)
	}
	return db, nil
}

// Create starts a new job's journal in dir/<id>/journal.db, creating dir
// (0700) and the job's folder (0700) as needed; files are 0600. It fails
// with ErrExists if the job's folder already exists.
//
// An empty job.ID gets NewID(now); a zero Created or Updated gets now; an
// empty State gets JobRunning. The header is durable when Create returns.
// Args and Options are stored verbatim: see Job.
func Create(dir string, job Job) (*Journal, error) {
	now := time.Now().UTC()
	if job.ID == "" {
		job.ID = NewID(now)
	}
	if err := validID(job.ID); err != nil {
		return nil, err
	}
	if job.Created.IsZero() {
		job.Created = now
	}
	if job.Updated.IsZero() {
		job.Updated = job.Created
	}
	if job.State == "" {
		job.State = JobRunning
	}
	job = job.clone()
	hdr, err := json.Marshal(job)
	if err != nil {
		return nil, fmt.Errorf("journal: job %s: encoding header: %w", job.ID, err)
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	jobDir := filepath.Join(dir, job.ID)
	if err := os.Mkdir(jobDir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: job %s (%s): %w", ErrExists, job.ID, jobDir, err)
		}
		return nil, fmt.Errorf("journal: %w", err)
	}
	fail := func(err error) (*Journal, error) {
		_ = os.RemoveAll(jobDir) // we made it; leave nothing half-created
		return nil, err
	}
	db, err := openDB(filepath.Join(jobDir, dbName), job.ID)
	if err != nil {
		return fail(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketRoutes); err != nil {
			return err
		}
		if err := meta.Put(keyVersion, []byte{formatVersion}); err != nil {
			return err
		}
		return meta.Put(keyHeader, hdr)
	})
	if err == nil {
		err = writeJobFile(jobDir, hdr)
	}
	if err != nil {
		_ = db.Close()
		return fail(fmt.Errorf("journal: job %s: %w", job.ID, err))
	}
	return start(jobDir, db, job), nil
}

// Open opens an existing job's journal for resume (or inspection). A
// missing job gives an error naming the id and wrapping ErrNotFound; a job
// open in another process gives, after LockTimeout, one wrapping ErrLocked.
// The journal stays locked until Close.
func Open(dir, id string) (*Journal, error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	jobDir := filepath.Join(dir, id)
	path := filepath.Join(jobDir, dbName)
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: no job %s in %s: %w", ErrNotFound, id, dir, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("journal: job %s: %w", id, err)
	}
	db, err := openDB(path, id)
	if err != nil {
		return nil, err
	}
	var job Job
	var hdr []byte
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil || tx.Bucket(bucketRoutes) == nil {
			return fmt.Errorf("%w: missing buckets", ErrCorrupt)
		}
		if v := meta.Get(keyVersion); len(v) != 1 || v[0] != formatVersion && v[0] != formatRanges {
			return fmt.Errorf("%w: format version %v, want %d or %d", ErrCorrupt, v, formatVersion, formatRanges)
		}
		hdr = bytes.Clone(meta.Get(keyHeader))
		if err := json.Unmarshal(hdr, &job); err != nil {
			return fmt.Errorf("%w: header: %w", ErrCorrupt, err)
		}
		return nil
	})
	if err == nil && job.ID != id {
		err = fmt.Errorf("%w: header names job %q", ErrCorrupt, job.ID)
	}
	if err == nil {
		// The store is the truth; repair job.json if a crash left it stale.
		if cur, rerr := os.ReadFile(filepath.Join(jobDir, jobName)); rerr != nil || !jsonEqual(cur, hdr) {
			err = writeJobFile(jobDir, hdr)
		}
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("journal: job %s: %w", id, err)
	}
	return start(jobDir, db, job), nil
}

func jsonEqual(file, hdr []byte) bool {
	var a, b bytes.Buffer
	return json.Compact(&a, file) == nil && json.Compact(&b, hdr) == nil && bytes.Equal(a.Bytes(), b.Bytes())
}

func start(jobDir string, db *bolt.DB, job Job) *Journal {
	j := &Journal{
		dir:  jobDir,
		id:   job.ID,
		db:   db,
		job:  job,
		kick: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	j.cond = sync.NewCond(&j.mu)
	go j.writer()
	return j
}

// ReadJob returns one job's header from its job.json, without opening the
// store: it works while another process has the job open.
func ReadJob(dir, id string) (Job, error) {
	if err := validID(id); err != nil {
		return Job{}, err
	}
	b, err := os.ReadFile(filepath.Join(dir, id, jobName))
	if errors.Is(err, fs.ErrNotExist) {
		return Job{}, fmt.Errorf("%w: no job %s in %s: %w", ErrNotFound, id, dir, err)
	}
	if err != nil {
		return Job{}, fmt.Errorf("journal: job %s: %w", id, err)
	}
	var job Job
	if err := json.Unmarshal(b, &job); err != nil {
		return Job{}, fmt.Errorf("%w: job %s: %s: %w", ErrCorrupt, id, jobName, err)
	}
	return job, nil
}

// List returns every job's header in dir, newest first (by Created, then
// id), read from the job.json files: it never waits on a job another
// process has open. A missing dir gives no jobs and no error. Folders
// without a job.json are not jobs and are left out; a job.json that cannot
// be read is left out too and reported in the returned error, alongside
// the jobs that could be read.
func List(dir string) ([]Job, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: listing jobs: %w", err)
	}
	var jobs []Job
	var errs []error
	for _, de := range des {
		if !de.IsDir() || validID(de.Name()) != nil {
			continue
		}
		job, err := ReadJob(dir, de.Name())
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		jobs = append(jobs, job)
	}
	sort.Slice(jobs, func(a, b int) bool {
		if !jobs[a].Created.Equal(jobs[b].Created) {
			return jobs[a].Created.After(jobs[b].Created)
		}
		return jobs[a].ID > jobs[b].ID
	})
	return jobs, errors.Join(errs...)
}

// writeJobFile replaces dir/job.json atomically: temporary file, fsync,
// rename into place, fsync of the folder.
func writeJobFile(dir string, hdr []byte) error {
	// Written compact, exactly as stored, so that the raw JSON fields
	// (Options, Summary) read back byte for byte.
	data := append(bytes.Clone(hdr), '\n')
	f, err := os.CreateTemp(dir, "."+jobName+".tmp*") // 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, jobName))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", jobName, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Job returns a copy of the job's header.
func (j *Journal) Job() Job {
	j.hdrMu.Lock()
	defer j.hdrMu.Unlock()
	return j.job.clone()
}

// Dir returns the job's folder, where the pipeline may keep its other
// files (log, results).
func (j *Journal) Dir() string { return j.dir }

// SetJob sets the job's state and replaces its summary (nil clears it),
// and stamps Updated. It first flushes every entry Finish'ed before the
// call, so a "done" header never precedes the entries it summarises. The
// change is durable in the store, and job.json is replaced, when SetJob
// returns.
func (j *Journal) SetJob(state JobState, summary json.RawMessage) error {
	if state == "" {
		return fmt.Errorf("%w: empty job state", ErrInvalid)
	}
	if err := j.Flush(); err != nil {
		return err
	}
	j.hdrMu.Lock()
	defer j.hdrMu.Unlock()
	job := j.job.clone()
	job.State = state
	job.Summary = bytes.Clone(summary)
	job.Updated = time.Now().UTC()
	hdr, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("journal: job %s: encoding header: %w", job.ID, err)
	}
	if err := j.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyHeader, hdr)
	}); err != nil {
		return err
	}
	j.job = job
	if err := writeJobFile(j.dir, hdr); err != nil {
		return fmt.Errorf("journal: job %s: %w", job.ID, err)
	}
	return nil
}

// update runs a synchronous write transaction, honouring the sticky error
// and making a failure sticky.
func (j *Journal) update(fn func(*bolt.Tx) error) error {
	j.mu.Lock()
	err, closed := j.err, j.closed
	j.mu.Unlock()
	if err != nil {
		return err
	}
	if closed {
		return ErrClosed
	}
	if err := j.db.Update(fn); err != nil {
		if errors.Is(err, ErrInvalid) {
			return err // nothing was written: the journal is fine
		}
		return j.fail(err)
	}
	return nil
}

func (j *Journal) fail(err error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err == nil {
		j.err = fmt.Errorf("journal: job %s: write failed, journal stopped: %w", j.id, err)
		j.cond.Broadcast()
	}
	return j.err
}

// Close flushes, stops the background writer and closes the store,
// releasing its lock. It returns the journal's first write error, if any.
// Calling Close again returns nil.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closing {
		j.mu.Unlock()
		return nil
	}
	j.closing = true
	j.mu.Unlock()
	close(j.stop)
	<-j.done
	j.commitMu.Lock()       // no commit runs from here on
	err := j.commitLocked() // whatever the writer left
	j.mu.Lock()
	j.closed = true
	j.buf = nil
	j.cond.Broadcast()
	j.mu.Unlock()
	j.commitMu.Unlock()
	if cerr := j.db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("journal: job %s: closing: %w", j.id, cerr)
	}
	return err
}
