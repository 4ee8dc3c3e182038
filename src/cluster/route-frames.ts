import { z } from "zod";
import { InvalidArgumentError } from "../runtime/index.js";

/**
 * The messages cluster nodes exchange for runtime operations, one NATS subject per node and
 * kind: `<prefix>.node.<node>.<kind>`. A node subscribes to `<prefix>.node.<itself>.>` with one
 * subscription, so what one node sends another arrives in the order it was sent, whatever the
 * kind (a cast, then a call, reach the process in that order). Every frame names its sender
 * (`n`); pids and refs travel as their text form, terms as `packTerm` made them.
 */
const node = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const text = z.string().min(1).max(200);
const term = z.unknown();

export const FRAME_SCHEMAS = {
  // Request/reply: answered with a PackedOutcome. `timeoutMs` null stands for Infinity.
  call: z.object({
    n: node,
    from: text.optional(),
    to: text,
    name: z.boolean(),
    message: term,
    timeoutMs: z.number().nonnegative().nullable(),
  }),
  cast: z.object({ n: node, to: text, name: z.boolean(), message: term }),
  send: z.object({ n: node, from: text, to: text, name: z.boolean(), message: term }),
  exit: z.object({ n: node, from: text, to: text, name: z.boolean(), reason: term }),
  // Request/reply (answered `{}`), so that a link to a node nobody serves breaks at once.
  link: z.object({ n: node, from: text, to: text }),
  unlink: z.object({ n: node, from: text, to: text }),
  link_exit: z.object({ n: node, from: text, to: text, reason: term }),
  // Request/reply (answered `{}`), so that a monitor of a node nobody serves fires at once.
  monitor: z.object({ n: node, ref: text, to: text, name: z.boolean() }),
  demonitor: z.object({ n: node, ref: text }),
  down: z.object({ n: node, ref: text, pid: text, reason: term }),
  // Request/reply: answered `{ pid }` (the pid's text, or null).
  whereis: z.object({ n: node, name: z.string().min(1).max(1000) }),
} as const;

export type FrameKind = keyof typeof FRAME_SCHEMAS;
export type FrameOf<K extends FrameKind> = z.infer<(typeof FRAME_SCHEMAS)[K]>;

export function isFrameKind(kind: string): kind is FrameKind {
  return Object.hasOwn(FRAME_SCHEMAS, kind);
}

export const whereisReply = z.object({ pid: text.nullable(), n: node });
export const outcomeReply = z.union([
  z.object({ ok: z.literal(true), value: term }),
  z.object({ ok: z.literal(false), error: term }),
]);

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** A subject prefix: dot-separated tokens of letters, digits, `_` or `-` (no wildcards). */
export function checkPrefix(prefix: string): string {
  if (
    typeof prefix !== "string" ||
    prefix.length === 0 ||
    prefix.length > 100 ||
    !prefix.split(".").every((t) => TOKEN.test(t))
  ) {
    throw new InvalidArgumentError(
      "prefix",
      `must be 1-100 characters of dot-separated tokens of letters, digits, '_' or '-', got ${JSON.stringify(prefix)}`,
    );
  }
  return prefix;
}

export function nodeSubject(prefix: string, to: string, kind: FrameKind | ">"): string {
  return `${prefix}.node.${to}.${kind}`;
}

/** Every node answers cluster-wide name lookups here (without a queue group: each one looks). */
export function namesSubject(prefix: string): string {
  return `${prefix}.names.whereis`;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeFrame(frame: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(frame));
}

export function decodeJson(data: Uint8Array): unknown {
  return JSON.parse(decoder.decode(data));
}
