/**
 * The protocol's fixed bounds (SPEC 3, 5 and 6), each written once: validation, the transports
 * and the routes read them here. The bounds an operator may set (text length, body size, buffers,
 * rates, connections) are options in src/config.ts, handed to the parts that apply them.
 */
export const LIMITS = Object.freeze({
  /** User ids: 1-64 characters of A-Z a-z 0-9 _ . @ -. */
  userIdLength: 64,
  /** A store's epoch as a cursor carries it: 1-64 characters of A-Z a-z 0-9 -. */
  epochLength: 64,
  clientMsgIdLength: 64,
  /** A WebSocket op's `ref`. */
  refLength: 64,
  /** Image and link URLs. */
  urlLength: 2048,
  /** Links per message. */
  links: 4,
  linkTitleLength: 300,
  /** An image's width and height, at most. */
  imageDimension: 100_000,
  /** Digits of a seq, a `since` or an integer query parameter (below 2^53). */
  integerDigits: 15,
  /** Conversations and history: messages or summaries per page, by default and at most. */
  pageDefault: 50,
  pageMax: 200,
  /** Unread messages per read-unread call, by default (at most pageMax). */
  unreadPageDefault: 20,
  /** Events in one poll answer, at most. */
  pollEvents: 500,
  /** Events a stream replays per store read while catching up. */
  replayPage: 500,
});
