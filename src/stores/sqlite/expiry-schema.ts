/**
 * The tables of SPEC 15 (stores/sqlite/expiry.ts). A plain send writes neither: a message that
 * expires gets a row in `expiring` beside its own, so the messages table (and each plain row) is
 * exactly as it was. A nullable `expires_at` column on messages with a partial index would have
 * cost every plain row a byte of record header (measured: 100,000 rows, 100,000 bytes more).
 */
export const EXPIRY_SCHEMA = `
-- Each conversation's own ttl (s); no row: none (the server default, if any, applies).
CREATE TABLE IF NOT EXISTS ttls (
  conv TEXT PRIMARY KEY,
  seconds INTEGER NOT NULL
) WITHOUT ROWID;

-- Messages that expire and are not erased yet (the sweeper deletes the row as it erases the
-- message; an unsend deletes it too). Keyed by conversation for the unread counts (an expired,
-- unswept message is not unread), indexed by expiry for the sweeper. \`rid\`: the message's row.
CREATE TABLE IF NOT EXISTS expiring (
  conv TEXT NOT NULL,
  id TEXT NOT NULL,
  sender TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  rid INTEGER NOT NULL,
  PRIMARY KEY (conv, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS expiring_by_time ON expiring (expires_at);
`;
