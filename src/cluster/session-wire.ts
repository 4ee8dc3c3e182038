import { z } from "zod";
import { InvalidArgumentError } from "../errors.js";
import { packOutcome, packTerm, unpackTerm } from "./route-wire.js";

/**
 * The session API between cluster nodes: a request to `<prefix>.sessions.<node>` (or, to
 * activate an ownerless session, to the `<prefix>.activate` queue group) and its outcome, both
 * as the router's terms (the hosts' codec on JSON), so that SessionInfo's dates, pids and typed
 * errors arrive as they left.
 */
const id = z.string().min(1).max(256);

export const NodeRequestSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("create"), config: z.unknown() }),
  z.object({
    op: z.literal("send"),
    id,
    text: z.string(),
    timeoutMs: z.number().int().positive().optional(),
    requestId: z.string().min(1).max(200).optional(),
  }),
  z.object({
    op: z.literal("cancel"),
    id,
    requestId: z.string().min(1).max(200).optional(),
    reason: z.string().max(10_000).optional(),
  }),
  z.object({ op: z.literal("history"), id }),
  z.object({ op: z.literal("events"), id, since: z.number().int().nonnegative() }),
  z.object({ op: z.literal("get"), id }),
  z.object({ op: z.literal("list") }),
  z.object({ op: z.literal("list_terminated") }),
  z.object({ op: z.literal("terminate"), id }),
  z.object({ op: z.literal("supervisor"), id }),
  z.object({ op: z.literal("files"), id }),
  z.object({ op: z.literal("hibernate"), id }),
  z.object({ op: z.literal("wake"), id }),
  z.object({ op: z.literal("approve"), id, callId: z.string().min(1).max(256) }),
  z.object({
    op: z.literal("deny"),
    id,
    callId: z.string().min(1).max(256),
    reason: z.string().max(10_000).optional(),
  }),
  /** Placed like `create`: the node that takes it claims the session. */
  z.object({ op: z.literal("import"), document: z.unknown() }),
  z.object({ op: z.literal("restore"), id }),
  /** To the activation queue group: claim the ownerless session and adopt it; answers the node. */
  z.object({
    op: z.literal("activate"),
    id,
    /** The owner the caller found unreachable: its lease is waited out even if it looks live. */
    unreachable: z.string().max(256).optional(),
  }),
]);

export type NodeRequest = z.infer<typeof NodeRequestSchema>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeRequest(request: NodeRequest): Uint8Array {
  return encoder.encode(JSON.stringify(packTerm(request, "request")));
}

/** A request as sent by another node; InvalidArgumentError for anything else. */
export function decodeRequest(data: Uint8Array): NodeRequest {
  let term: unknown;
  try {
    term = unpackTerm(JSON.parse(decoder.decode(data)));
  } catch (error) {
    throw new InvalidArgumentError("request", `is not a session request: ${String(error)}`);
  }
  const parsed = NodeRequestSchema.safeParse(term);
  if (!parsed.success) throw new InvalidArgumentError("request", "is not a session request");
  return parsed.data;
}

export function encodeOutcome(ok: boolean, value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(packOutcome(ok, value)));
}

/** The value of a reply, or the error it carries thrown (revived as its class). */
export function decodeOutcome(data: Uint8Array): unknown {
  const outcome = JSON.parse(decoder.decode(data)) as { ok?: unknown; value?: unknown; error?: unknown };
  if (outcome.ok === true) return unpackTerm(outcome.value);
  throw unpackTerm(outcome.error);
}
