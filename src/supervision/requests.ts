import type { Result, Target } from "../runtime/index.js";
// Not the runtime's public API: the request helpers' way to have a reply taken apart in place.
import { valueOfResult } from "../runtime/result.js";
import { CALL_FOR_RESULT, isResultCaller } from "../runtime/result-call.js";

/**
 * A server's protocol: for each request name (`op`), what the request carries and what its
 * reply is. The message on the wire is a plain object, `{ op, ...request }`, so it crosses a host
 * boundary as before; the map exists only in the types.
 */
export type RequestMap = { [op: string]: { request: object; reply: unknown } };

/** The message for request `K` of `R` (by default any of them, as a union). */
export type Request<R extends RequestMap, K extends keyof R = keyof R> = K extends keyof R
  ? { op: K } & R[K]["request"]
  : never;

/** What request `K` of `R` answers (by default any of them, as a union). */
export type Reply<R extends RequestMap, K extends keyof R = keyof R> = R[K]["reply"];

/** Servers that speak a RequestMap answer with a Result, so that a bad request never crashes them. */
export type ReplyResult<R extends RequestMap> = Result<Reply<R>>;

/** Who sends the call: a Runtime, or a process acting as itself. */
export interface Caller {
  call(target: Target, message: unknown, timeoutMs?: number): Promise<unknown>;
}

/** A typed request to a server speaking `R`: resolves with the reply, or throws the error it sent. */
export type Requester<R extends RequestMap> = <K extends keyof R & string>(
  caller: Caller,
  target: Target,
  message: { op: K } & R[K]["request"],
  timeoutMs?: number,
) => Promise<R[K]["reply"]>;

/**
 * The one request helper for a protocol, made once per protocol (`const ask = requester<R>()`):
 * the reply's type follows from the message's `op`, so call sites need no casts.
 */
export function requester<R extends RequestMap>(): Requester<R> {
  // Not an async function: the reply reaches the caller a microtask or two sooner, which a
  // caller awaiting one request after another (a create after a create) feels on each.
  return <K extends keyof R & string>(
    caller: Caller,
    target: Target,
    message: { op: K } & R[K]["request"],
    timeoutMs?: number,
  ): Promise<R[K]["reply"]> => {
    // The one place the reply's type is taken on trust: the server declares it in its map.
    try {
      // The Runtime and every process's scope take the Result apart as the reply arrives.
      if (isResultCaller(caller))
        return caller[CALL_FOR_RESULT](target, message, timeoutMs) as Promise<R[K]["reply"]>;
      const reply = caller.call(target, message, timeoutMs);
      return Promise.resolve(reply).then((value) => valueOfResult(value, target) as R[K]["reply"]);
    } catch (error) {
      return Promise.reject(error);
    }
  };
}
