import { registerRevivableError, SessionvisorError } from "../errors.js";

/** The NATS client packages cluster mode needs; single-node users never install them. */
export const NATS_PACKAGES = ["@nats-io/transport-node", "@nats-io/jetstream", "@nats-io/kv"] as const;

/**
 * Cluster mode needs the NATS client, an optional peer dependency (three packages, 3.3.x: 3.4's
 * nuid needs Node 22), and it is not installed.
 */
export class NatsClientMissingError extends SessionvisorError {
  /** The package that failed to load. */
  readonly packageName: string;

  constructor(packageName: string, cause: unknown) {
    super(
      "nats_client_missing",
      `cluster mode needs the NATS client package ${packageName}, which is not installed: run ` +
        `\`npm install ${NATS_PACKAGES.map((name) => `${name}@~3.3`).join(" ")}\``,
      { cause },
    );
    this.packageName = packageName;
  }
}

export type ClusterUnavailableReason = "unreachable" | "no_jetstream" | "request_failed" | "closed";

/** NATS (or its JetStream) cannot be reached, or a request to it failed or timed out. */
export class ClusterUnavailableError extends SessionvisorError {
  readonly reason: ClusterUnavailableReason;

  constructor(reason: ClusterUnavailableReason, detail: string, cause?: unknown) {
    super("cluster_unavailable", `the cluster is unavailable (${reason}): ${detail}`, { cause });
    this.reason = reason;
  }
}

/**
 * A bucket exists with a TTL other than the one this node was configured with. For the leases
 * bucket that would break the safety argument (a holder computes its validity from its own TTL,
 * the server expires keys by the bucket's), so it is refused rather than adopted.
 */
export class ClusterBucketMismatchError extends SessionvisorError {
  readonly bucket: string;
  readonly expectedTtlMs: number;
  readonly actualTtlMs: number;

  constructor(bucket: string, expectedTtlMs: number, actualTtlMs: number) {
    super(
      "cluster_bucket_mismatch",
      `the NATS KV bucket ${bucket} keeps keys for ${actualTtlMs} ms, but this node was configured for ` +
        `${expectedTtlMs} ms: configure every node alike, or delete the bucket while no node uses it`,
    );
    this.bucket = bucket;
    this.expectedTtlMs = expectedTtlMs;
    this.actualTtlMs = actualTtlMs;
  }
}

/** A claim of a session that another live lease holds. */
export class SessionOwnedElsewhereError extends SessionvisorError {
  readonly sessionId: string;
  /** The node that holds the lease. */
  readonly node: string;
  /** The holder's fence (the revision of its claim). */
  readonly fence: number;

  constructor(sessionId: string, node: string, fence: number) {
    super("session_owned_elsewhere", `session ${sessionId} is owned by node ${node} (fence ${fence})`);
    this.sessionId = sessionId;
    this.node = node;
    this.fence = fence;
  }
}

/** The membership or the leases were closed; nothing more can be done with them. */
export class ClusterClosedError extends SessionvisorError {
  constructor(what: string) {
    super("cluster_closed", `the ${what} is closed`);
  }
}

// Cluster errors keep their class when a hosted session's agents throw them to a caller.
for (const type of [
  NatsClientMissingError,
  ClusterUnavailableError,
  ClusterBucketMismatchError,
  SessionOwnedElsewhereError,
  ClusterClosedError,
]) {
  registerRevivableError(type);
}
