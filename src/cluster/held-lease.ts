/** Why a held lease was lost. */
export type LeaseLossReason =
  /** No renewal was confirmed in time: the holder can no longer be sure nobody else holds it. */
  | "expired"
  /** A renewal found the key changed by someone else (it expired and was claimed, or was deleted). */
  | "taken"
  /** The leases were closed without releasing. */
  | "closed";

/**
 * One lease this node holds, and how long it may trust it.
 *
 * The validity rule, and why it needs no synchronised clocks: a renewal is sent at local
 * monotonic time `sentAt`. The server stores it no earlier than that instant, and keeps the key
 * for the bucket's TTL from when it stored it, so no other claim can succeed before
 * `sentAt + ttl` in real time. The holder trusts the lease until `sentAt + ttl − margin` by its
 * own clock: only the *rates* of the two clocks must agree (to within margin over one TTL), not
 * their readings. The margin also covers the holder's own reaction time (its timer firing late,
 * stopping the session's tree).
 */
export class HeldLease {
  readonly sessionId: string;
  /** The revision of the claim: constant for the whole ownership, higher for every later owner. */
  readonly fence: number;
  /** The key's latest revision, which the next renewal must name. */
  revision: number;
  /** Local monotonic time (ms) until which the lease is trusted. */
  validUntil: number;
  state: "held" | "released" | "lost" = "held";
  renewTimer: NodeJS.Timeout | undefined;
  lossTimer: NodeJS.Timeout | undefined;
  /** The renewal in flight, if any (a release waits for it, to delete at the latest revision). */
  renewing: Promise<void> | undefined;

  constructor(sessionId: string, fence: number, validUntil: number) {
    this.sessionId = sessionId;
    this.fence = fence;
    this.revision = fence;
    this.validUntil = validUntil;
  }

  /** The state read afresh (after an await, when a narrowed `state` would be stale to the compiler). */
  currentState(): HeldLease["state"] {
    return this.state;
  }

  isValid(now: number): boolean {
    return this.state === "held" && now < this.validUntil;
  }

  clearTimers(): void {
    clearTimeout(this.renewTimer);
    clearTimeout(this.lossTimer);
    this.renewTimer = undefined;
    this.lossTimer = undefined;
  }
}
