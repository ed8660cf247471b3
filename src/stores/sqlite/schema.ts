/**
 * SQLite schema. Users are never stored on their own: a user exists through its rows here.
 * `conv` is the conversation key "a b" (the two user ids sorted; a space is not a user-id char).
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- \`id\` has no index of its own: every lookup is within a conversation (messages_by_conv), and
-- ids are unique by construction (one process owns the file; MonotonicUlid). Files made before
-- keep the UNIQUE index they were created with.
CREATE TABLE IF NOT EXISTS messages (
  rid INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  conv TEXT NOT NULL,
  sender TEXT NOT NULL,
  ts INTEGER NOT NULL,
  client_msg_id TEXT,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_conv ON messages (conv, id);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_client_id ON messages (sender, client_msg_id)
  WHERE client_msg_id IS NOT NULL;

-- A rowid table: rows append at the end in time order (age trimming walks rid order, no ts
-- index). It has no (user, seq) index: each user's seq -> rid map is held in memory
-- (event-index.ts), so an event costs an append, not a random index leaf per user per commit.
-- A message event holds the message's rid in \`msg\` and an empty body: the message is stored
-- once, not three times.
CREATE TABLE IF NOT EXISTS events (
  rid INTEGER PRIMARY KEY,
  user TEXT NOT NULL,
  seq INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  body TEXT NOT NULL,
  msg INTEGER
);

-- floor: the highest seq trimmed from the user's log (0 when nothing was trimmed).
CREATE TABLE IF NOT EXISTS logs (
  user TEXT PRIMARY KEY,
  floor INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS conversations (
  user TEXT NOT NULL,
  peer TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  last_id TEXT NOT NULL,
  read_upto TEXT,
  PRIMARY KEY (user, peer)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS conversations_by_recent ON conversations (user, updated_at);

CREATE TABLE IF NOT EXISTS blocks (
  blocker TEXT NOT NULL,
  blocked TEXT NOT NULL,
  PRIMARY KEY (blocker, blocked)
) WITHOUT ROWID;
`;

/** Files made before \`events.msg\` existed gain the column; their old rows keep their bodies. */
export const MIGRATIONS: { table: string; column: string; sql: string }[] = [
  { table: "events", column: "msg", sql: "ALTER TABLE events ADD COLUMN msg INTEGER" },
];

/**
 * Indexes files made before keep until they are opened: `events_by_user` became the in-memory
 * EventIndex. An older build opening the file again recreates it (its schema says IF NOT EXISTS).
 */
export const DROPPED_INDEXES = ["events_by_user"];

export function conversationKey(a: string, b: string): string {
  return a < b ? `${a} ${b}` : `${b} ${a}`;
}
