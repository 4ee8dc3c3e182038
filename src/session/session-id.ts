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
const idText = Buffer.from("session_00000000-0000-4000-8000-000000000000", "latin1");
const HEX = Buffer.from("0123456789abcdef", "latin1");
/** Where each of the uuid's 16 bytes goes in `idText`. */
const BYTE_AT = [8, 10, 12, 14, 17, 19, 22, 24, 27, 29, 32, 34, 36, 38, 40, 42];

/**
 * A new id: `session_` and a random (version 4) uuid, as `randomUUID` makes one, from the same
 * kind of pooled cryptographic randomness. Written into a buffer and read out as one flat
 * string: `randomUUID` builds its text of some twenty concatenations (a rope, ~600 bytes of
 * garbage), which a rope over it would keep — every key, topic and record made from the id
 * would be a rope over a rope, and a hash worked out again for each.
 */
export function newSessionId(): SessionId {
  if (nextInPool === IDS_PER_DRAW) {
    crypto.getRandomValues(randomPool);
    nextInPool = 0;
  }
  const from = 16 * nextInPool++;
  for (let i = 0; i < 16; i++) {
    let byte = randomPool[from + i] as number;
    // RFC 9562: version 4 in the high nibble of byte 6, variant 10 in the high bits of byte 8.
    if (i === 6) byte = (byte & 0x0f) | 0x40;
    else if (i === 8) byte = (byte & 0x3f) | 0x80;
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

export const SUPERVISOR_KEY_PREFIX = "session_supervisor:";
export const GLOBAL_SESSION_TOPIC = "sessions";

export function sessionTopic(id: SessionId): string {
  return `session:${id}`;
}
