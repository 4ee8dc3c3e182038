import { InvalidSessionIdError } from "./errors.js";

// Strict and anchored: an id that passes can never carry a path separator, a quote or SQL.
const SESSION_ID = /^session_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export type SessionId = string;

/**
 * Random bytes for this many ids at a time, drawn as `randomUUID` draws its own, from the global
 * Web Crypto: importing node:crypto would cost every thread host ~7 ms of its start (16 internal
 * modules) for ids it never makes.
 */
const IDS_PER_DRAW = 128;
const randomPool = Buffer.alloc(16 * IDS_PER_DRAW);
let nextInPool = IDS_PER_DRAW;
/** The id's text, written in place: the prefix and the dashes stay, the hex digits change. */
const idText = Buffer.from("session_00000000-0000-7000-8000-000000000000", "latin1");
const HEX = Buffer.from("0123456789abcdef", "latin1");
/** Where each of the uuid's 16 bytes goes in `idText`. */
const BYTE_AT = [8, 10, 12, 14, 17, 19, 22, 24, 27, 29, 32, 34, 36, 38, 40, 42];
/** The uuid's 12-bit counter field (RFC 9562 §6.2, method 1), and the millisecond it counts in. */
const COUNTER_MAX = 0xfff;
let lastMs = 0;
let counter = 0;

/**
 * A new id: `session_` and a time-ordered (version 7) uuid: 48 bits of Unix milliseconds, a
 * 12-bit counter, and 62 random bits from pooled cryptographic randomness, as `randomUUID`
 * draws its own. Ids made here sort in the order they were made: the counter starts at a random
 * point in the lower half of its range each millisecond and counts up within it, and the clock
 * this uses never runs back (a clock set back, or more than the counter holds in one
 * millisecond, borrows the next millisecond).
 *
 * Time-ordered because every table of a store is keyed by session id: a new session's record,
 * its events and its turns go in at the right edge of each index instead of a random leaf, so a
 * create's commit writes the same few pages as the one before (a random v4 id dirtied a page per
 * index per session: a batch of 25 sessions' events wrote ~25 pages). The ids say when they
 * were made, which their session's `createdAt` says already; 62 random bits (and the manager's
 * check against its live sessions) keep them unguessable and unique.
 *
 * Written into a buffer and read out as one flat string: `randomUUID` builds its text of some
 * twenty concatenations (a rope, ~600 bytes of garbage), which a rope over it would keep —
 * every key, topic and record made from the id would be a rope over a rope, and a hash worked
 * out again for each.
 */
export function newSessionId(): SessionId {
  if (nextInPool === IDS_PER_DRAW) {
    crypto.getRandomValues(randomPool);
    nextInPool = 0;
  }
  const from = 16 * nextInPool++;
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    counter = (((randomPool[from + 6] as number) & 0x07) << 8) | (randomPool[from + 7] as number);
  } else if (++counter > COUNTER_MAX) {
    lastMs++;
    counter = 0;
  }
  const high = Math.floor(lastMs / 2 ** 32);
  const low = lastMs >>> 0;
  randomPool[from] = high >>> 8;
  randomPool[from + 1] = high & 0xff;
  randomPool[from + 2] = low >>> 24;
  randomPool[from + 3] = (low >>> 16) & 0xff;
  randomPool[from + 4] = (low >>> 8) & 0xff;
  randomPool[from + 5] = low & 0xff;
  // Version 7 in the high nibble of byte 6 above the counter's top 4 bits; variant 10 in byte 8.
  randomPool[from + 6] = 0x70 | (counter >>> 8);
  randomPool[from + 7] = counter & 0xff;
  randomPool[from + 8] = ((randomPool[from + 8] as number) & 0x3f) | 0x80;
  for (let i = 0; i < 16; i++) {
    const byte = randomPool[from + i] as number;
    const at = BYTE_AT[i] as number;
    idText[at] = HEX[byte >> 4] as number;
    idText[at + 1] = HEX[byte & 0x0f] as number;
  }
  return idText.toString("latin1", 0, idText.length);
}

export function isSessionId(value: unknown): value is SessionId {
  return typeof value === "string" && value.length === 44 && SESSION_ID.test(value);
}

export function assertSessionId(value: unknown): asserts value is SessionId {
  if (!isSessionId(value)) throw new InvalidSessionIdError(value);
}

export interface SessionKeys {
  readonly supervisor: string;
  readonly contextManager: string;
  readonly orchestrator: string;
}

/**
 * The registry keys of a session's processes, as the seed names them. Flat strings (see
 * newSessionId); a session's processes share one set, made by its supervisor, so the registry
 * hashes each key once.
 */
export function sessionKeys(id: SessionId): SessionKeys {
  return {
    supervisor: `session_supervisor:${id}`,
    contextManager: `context_manager:${id}`,
    orchestrator: `llm_orchestrator:${id}`,
  };
}

/**
 * The keys an agent's args carry (the session supervisor makes them once for the session's
 * processes), made on the args themselves when args made elsewhere lack them.
 */
export function keysOf(args: { readonly sessionId: SessionId; keys?: SessionKeys }): SessionKeys {
  args.keys ??= sessionKeys(args.sessionId);
  return args.keys;
}

export const SUPERVISOR_KEY_PREFIX = "session_supervisor:";
export const GLOBAL_SESSION_TOPIC = "sessions";

export function sessionTopic(id: SessionId): string {
  return `session:${id}`;
}
