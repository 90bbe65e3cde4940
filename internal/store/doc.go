// Package store keeps Lobby's leases and sessions in the state directory so
// that a restart, a crash or kill -9 loses nothing a caller was told is saved,
// while writing to flash as little as a busy hotspot allows.
//
// # Model
//
// A record is a JSON value filed under a kind ("lease", "session", …) and a
// key (a MAC address, a token, …). The whole set lives in memory; the disk
// copy exists only to survive restarts. Put and Delete change memory at once
// and queue the change for the writer goroutine. Queued changes reach the disk
// either when someone calls Sync (which waits until they are fsynced) or,
// lazily, at most FlushInterval after the first un-synced change. Callers that
// must not lose a change (a sign-in, a DHCP ACK) call Sync before they answer;
// traffic counters and similar do not, and so cost no flash writes of their
// own. Several changes to one record that are queued together reach the disk
// as one.
//
// # Files
//
// The directory holds two files.
//
// state.json is a snapshot of every record:
//
//	{"format":"lobby-state","version":1,"gen":7,"crc32c":"1a2b3c4d","records":{"lease":{"aa:bb:cc:dd:ee:ff":{…}}}}
//
// crc32c is the CRC-32C (Castagnoli) of the exact bytes of the "records"
// value, so a bit flip inside a value is caught, not just broken syntax; an
// operator who edits the file by hand may delete the crc32c field. The
// snapshot is only ever replaced whole: written to state.json.tmp, fsynced,
// renamed over state.json, and the directory fsynced.
//
// journal is an append-only log of the changes made since that snapshot, one
// per line; each line checks itself:
//
//	<crc32c of the JSON, 8 lowercase hex digits> SP <JSON object> LF
//
// The first line is a header, {"op":"begin","gen":7}, naming the snapshot the
// journal continues; the others are {"op":"put","kind":…,"key":…,"value":…}
// or {"op":"delete","kind":…,"key":…}. Changes queued while the previous
// write was under way go out together in one write and one fsync (group
// commit), so thousands of Sync callers per second cost far fewer fsyncs.
//
// # Compaction and generations
//
// When the journal has grown past max(1024, 2×live records) lines, or past
// max(4 MiB, 2×the snapshot), the writer writes a new snapshot with the next
// generation number and then replaces the journal with a fresh one whose
// header carries the same number (again via a temporary file, fsync and
// rename). The generation is what makes a crash between those two renames
// harmless: the snapshot holds changes that never went to the old journal,
// so replaying the old journal over it would bring back stale values and
// deleted records. A journal whose generation is older than the snapshot's
// is therefore ignored rather than replayed.
//
// # Damage
//
// Open never fails because of file content, since a daemon that cannot start
// because of a bad state file would restart forever. A journal line that is cut
// short (no LF), fails its CRC, is not valid JSON or is not a known operation
// ends the replay: every record before it is kept and the rest of the file is
// copied to journal.corrupt-<unixnano> with a warning. An unreadable or corrupt
// state.json is renamed to state.json.corrupt-<unixnano> with a warning and
// the journal is applied on its own. Only the newest few of each kind of
// corrupt file are kept, so a failing flash chip cannot fill itself with them.
// Open returns an error only for I/O problems with the directory itself
// (cannot create, read or write it).
//
// After loading, Open writes a fresh snapshot and journal whenever the journal
// held anything, so each run starts from a clean, short journal.
//
// # Write errors
//
// A failed write (a full disk, say) is logged, keeps every queued change in
// memory, is retried later, and is returned by Sync so that a caller can
// decline to confirm what it could not save. Because a failed write may
// leave half a line at the end of the journal, the next attempt after a
// failure writes a new snapshot and journal instead of appending.
//
// # Trust
//
// The store assumes it is the only writer of its directory; the daemon is
// expected to run once per state_dir (a lock file makes sure). Open refuses
// a directory that another user can write to: one owned by neither lobby's
// user nor root, or writable by its group or others. Inside it no symbolic
// link is followed: every file is opened with O_NOFOLLOW, and a link (or
// anything else that is not a regular file) at the name of the snapshot or
// the journal is set aside like a corrupt file, its target untouched. The
// renames that replace the snapshot and the journal replace whatever has
// the name, never what a link there points at.
package store
