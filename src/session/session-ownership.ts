import { InvalidArgumentError } from "../runtime/index.js";

/**
 * How a session system shares its store with others (cluster mode): it runs only the sessions
 * it owns. Without it, the system owns every session in its store, and restores them all at
 * boot. With it:
 * - nothing is restored at boot: sessions arrive one by one with `adoptSession`, once their
 *   owner (the caller) holds them;
 * - a new, restored or imported session is claimed (`claim`) before its first write;
 * - a manager that restarts rebuilds its table from the sessions in `owned()` only;
 * - event numbers of a session come from the store's log of that session when it is adopted
 *   (past what a crashed owner may have numbered unwritten), never from a store-wide mark.
 */
export interface SessionOwnership {
  /** Makes this system the session's owner before it writes the session; throws to refuse. */
  claim(sessionId: string): Promise<void>;
  /** The sessions this system owns now (its manager's table after a restart). */
  owned(): Iterable<string>;
}

export function checkOwnership(value: unknown): SessionOwnership {
  const o = value as SessionOwnership | null;
  if (typeof o !== "object" || o === null || typeof o.claim !== "function" || typeof o.owned !== "function")
    throw new InvalidArgumentError("ownership", "must be { claim(sessionId), owned() }");
  return o;
}
