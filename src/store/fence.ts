import { InvalidArgumentError, registerRevivableError, SessionvisorError } from "../errors.js";

/**
 * Where a store learns the fencing token of the sessions this node owns. In cluster mode it is
 * the ownership lease: the fence is the lease's claim revision, which grows with every new
 * owner, so a later owner always carries a higher fence than any earlier one.
 */
export interface FenceSource {
  /** The fence this node holds for the session, or undefined when it does not own it. */
  fenceOf(sessionId: string): number | undefined;
}

/**
 * A write for a session was refused because this node is not, or no longer, its owner: the
 * store has seen a higher fence (another node claimed the session since), or this node holds
 * no fence for it at all (`fence` undefined). Nothing of the write was stored. The owner that
 * gets it must stop the session rather than retry: retrying cannot succeed.
 */
export class StaleFenceError extends SessionvisorError {
  readonly sessionId: string;
  /** The fence the write carried; undefined when this node holds none for the session. */
  readonly fence: number | undefined;
  /** The highest fence the store has seen for the session; undefined when unknown. */
  readonly current: number | undefined;

  constructor(sessionId: string, fence: number | undefined, current: number | undefined) {
    super(
      "stale_fence",
      fence === undefined
        ? `write for session ${sessionId} refused: this node holds no ownership fence for it`
        : `write for session ${sessionId} refused: its fence ${fence} is older than the ` +
            `${current === undefined ? "fence" : `fence ${current}`} the store has seen, so another node owns the session now`,
    );
    this.sessionId = sessionId;
    this.fence = fence;
    this.current = current;
  }
}

registerRevivableError(StaleFenceError);

/** The fence of every session a write concerns; throws StaleFenceError for one not owned here. */
export function fencesOf(source: FenceSource, sessionIds: Iterable<string>): Map<string, number> {
  const fences = new Map<string, number>();
  for (const id of sessionIds) {
    if (fences.has(id)) continue;
    const fence = source.fenceOf(id);
    if (fence === undefined) throw new StaleFenceError(id, undefined, undefined);
    if (!Number.isSafeInteger(fence) || fence < 0)
      throw new InvalidArgumentError(
        "fence",
        `the fence source answered ${String(fence)} for ${id}: expected a whole number >= 0`,
      );
    fences.set(id, fence);
  }
  return fences;
}
