-- Lobby: the grants the walk policy (policy.d/lobby) reads, one row per
-- device (its Calling-Station-Id), written in post-auth by every Accept but
-- the walk's own. Load it after FreeRADIUS's SQLite schema
-- (mods-config/sql/main/sqlite/schema.sql), into the same database.
CREATE TABLE IF NOT EXISTS lobby_grant (
	callingstationid varchar(50) PRIMARY KEY,
	username varchar(64) NOT NULL DEFAULT '',
	granted integer NOT NULL,		-- when (Unix time, the server's clock)
	lastacct integer NOT NULL DEFAULT 0,	-- radacct's last radacctid then: later rows are this grant's
	sessiontimeout integer NOT NULL DEFAULT 0,	-- Session-Timeout, s (0: none)
	downrate integer NOT NULL DEFAULT 0,	-- bit/s (0: none)
	uprate integer NOT NULL DEFAULT 0,
	quota integer NOT NULL DEFAULT 0,	-- bytes up and down together (0: none)
	class varchar(253) NOT NULL DEFAULT ''	-- the first Class, as 0x… hex
);

-- Write-ahead logging (kept in the database file): an accounting record
-- costs one fsync instead of a rollback journal's several, and the walk's
-- reads do not wait for writes.
PRAGMA journal_mode = WAL;
