// Package protocoltest shows hoodie's write protocol as storage-operation
// traces: each file under testdata/ is a scenario whose expected output is
// the normalized trace (see internal/optrace) of every step: a copy-on-write
// commit, a merge-on-read commit, a commit during a pending compaction,
// compaction schedule and execution, cleaning, archival, the rollback of a
// failed write and an optimistic-concurrency conflict.
//
// A change of the protocol shows as a diff of these files. Regenerate them
// with
//
//	go test ./internal/protocoltest/ -rewrite
//
// and review the diff like code. The calls into the public packages are
// all in api_test.go.
//
// # Commands
//
// Every scenario runs on one in-memory store shared by named processes
// (p=NAME, default the unnamed process): each has its own store handle, so
// a crash kills only that process, and its own table handle and writer.
// The output of a command is the trace of the operations it made (lines of
// a named process start with "NAME: "), then its result.
//
//	create-table type=cow|mor     create the table
//	open-writer [p=] [occ]        open a writer (occ: optimistic concurrency, no retries)
//	upsert [p=]                   buffer records, one "<part> <id> <ts> <val>" per input line
//	delete [p=]                   buffer deletes, one "<part> <id>" per input line
//	commit [p=]                   commit the buffered records
//	  pause-at=<op>:<glob> run=Q  when p is about to do the matching operation,
//	                              process Q commits its buffered records first
//	schedule-compaction [p=]      schedule a compaction of every slice with logs
//	run-compaction [p=]           execute the pending compactions
//	clean [p=] versions=N         clean, keeping N file versions per file group
//	clean [p=] commits=N          clean, keeping the slices the last N commits read
//	archive [p=] min=N max=M      archive the timeline down to N commits past M
//	rollback [p=] instant=<Tn>    roll back an instant (pending, or the latest write)
//	read                          the table's rows (not traced)
//	ls [prefix=]                  the objects under prefix (not traced)
//	reset                         start a new scenario
//
// Any command takes crash-at=<op>:<glob>: the process crashes at its first
// matching operation (storage.ModeCrash; every later operation of the
// process fails). <op> is a storage operation kind (read, create, write,
// close, list, delete, stat; put is close) and <glob> a storage.Match path.
//
// The traces are deterministic: processes run one at a time, writers and
// the compactor with parallelism 1, placeholders are numbered in order of
// appearance, and heartbeat rewrites made by the heartbeat timer are left
// out of the trace (the first heartbeat of an instant and its deletion are
// in it).
package protocoltest
