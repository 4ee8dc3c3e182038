import type { z } from "zod";
import { InvalidArgumentError } from "../errors.js";
import { InvalidSessionIdError } from "../store/index.js";

/**
 * Options checked by a schema: the first issue becomes an InvalidArgumentError naming the
 * option (`membership.heartbeatMs`), so a typo or a bad value is refused at the entry point.
 */
export function parseOptions<T extends z.ZodType>(schema: T, input: unknown, root: string): z.output<T> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (!issue) throw new InvalidArgumentError(root, "is invalid");
  if (issue.code === "unrecognized_keys") {
    throw new InvalidArgumentError([root, ...issue.path, issue.keys[0]].join("."), "is not a known option");
  }
  throw new InvalidArgumentError([root, ...issue.path.map(String)].join("."), issue.message);
}

// A KV key is a subject token here: no dots (they would make it several tokens), no wildcards.
// The same alphabet as the store's keys, so a session id that a store accepts is a valid key.
const KEY = /^[A-Za-z0-9_-]{1,128}$/;

/** A node id: one KV key and one subject token. */
export const NODE_ID_PATTERN = KEY;

/** A bucket name: NATS allows `[A-Za-z0-9_-]`. */
export const BUCKET_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export function assertLeaseKey(sessionId: unknown): asserts sessionId is string {
  if (typeof sessionId !== "string" || !KEY.test(sessionId)) {
    throw new InvalidSessionIdError(sessionId, "1-128 letters, digits, '_' or '-'");
  }
}
