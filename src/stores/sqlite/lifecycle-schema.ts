/**
 * The tables of SPEC 13 (stores/sqlite/lifecycle.ts). Nothing here is written by a plain send:
 * edits, reactions and tombstones change the message's own row (messages.body).
 */
export const LIFECYCLE_SCHEMA = `
-- Ids of unsent messages, so unread counts leave them out (the tombstone keeps its row in
-- messages for history's order).
CREATE TABLE IF NOT EXISTS unsent (
  conv TEXT NOT NULL,
  sender TEXT NOT NULL,
  id TEXT NOT NULL,
  PRIMARY KEY (conv, sender, id)
) WITHOUT ROWID;

-- upto: the last message from \`peer\` that \`user\`'s devices acknowledged.
CREATE TABLE IF NOT EXISTS delivered (
  user TEXT NOT NULL,
  peer TEXT NOT NULL,
  upto TEXT NOT NULL,
  PRIMARY KEY (user, peer)
) WITHOUT ROWID;

-- Only the settings a user changed, as JSON; the rest are the defaults.
CREATE TABLE IF NOT EXISTS settings (
  user TEXT PRIMARY KEY,
  body TEXT NOT NULL
) WITHOUT ROWID;

-- until: ms, or NULL for "until unmuted".
CREATE TABLE IF NOT EXISTS mutes (
  user TEXT NOT NULL,
  peer TEXT NOT NULL,
  until INTEGER,
  PRIMARY KEY (user, peer)
) WITHOUT ROWID;
`;
