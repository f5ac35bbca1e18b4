// Package journal records a migration job on local disk so that a run
// killed at any moment (kill -9, power loss) can be resumed without losing
// an object or copying one twice.
//
// Each job lives in its own folder, <dir>/<id>/, holding journal.db (an
// embedded bbolt store: the source of truth) and job.json (a copy of the
// job's header, replaced atomically by rename on every header change so
// that List never has to open, and so never waits on, a store that another
// process holds). The folder is also where the pipeline puts the job's log
// and results files (Journal.Dir).
//
// # Durability model
//
// Every write is a bbolt transaction, and bbolt fsyncs on commit: a
// transaction is either wholly on disk or wholly absent after a crash.
//
//   - Create, SetJob, RecordPage and RecordRangePage are durable when they return. A listing
//     page is recorded (its objects as Pending, with the continuation token
//     that follows it) in one transaction, before the pipeline dispatches
//     its objects. A crash during listing therefore resumes at the page after
//     the last recorded one (Route), and every listed object is in the
//     journal before any copy of it can start.
//   - A route listed in parallel records its key ranges first (RecordRanges,
//     durable), then each range's pages with that range's own continuation
//     token (RecordRangePage), the same way: a crash resumes every
//     unfinished range after its last recorded page. Such a store is format
//     2; builds that know only format 1 refuse to open it.
//   - Finish is buffered: a background writer commits what has accumulated
//     every ~50 ms, or as soon as 1,000 entries wait, in one transaction per
//     batch. Flush (and Close, and SetJob) commits everything Finish'ed
//     before the call and is durable when it returns.
//   - A crash can lose only entries Finish'ed after the last committed batch.
//     Those objects stay Pending in the journal; on resume the pipeline
//     re-checks every Pending object against the destination (an object
//     that did arrive is found there and not copied again), so the loss
//     costs a lookup, never a lost or doubled object.
//   - Per-route counts (Counts) live in the same transactions as the
//     entries they count, so they always equal a scan of the entries.
//   - If a commit ever fails (disk full, I/O error), the journal stops
//     accepting writes: that error is returned by every later Flush,
//     RecordPage, SetJob and Close, and the job must be resumed later.
//
// Only one process may have a job open: Open and Create hold the store's
// file lock until Close, and a second Open fails after LockTimeout with an
// error wrapping ErrLocked. The kernel drops the lock when a process dies,
// so a killed run never blocks its resume.
//
// # Secrets
//
// The journal stores exactly what it is given (Job.Args, Job.Options,
// entries) in files readable by the owner only. It does not look for
// secrets: removing them before Create and SetJob is the caller's job.
package journal
