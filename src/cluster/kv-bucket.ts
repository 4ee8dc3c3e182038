import type { KV } from "@nats-io/kv";
import { ClusterBucketMismatchError, ClusterUnavailableError } from "./errors.js";
import { type ClusterConnection, messageOf } from "./nats-connection.js";

export interface TtlBucketOptions {
  /** The bucket's max_age: the server removes a key this long after its last write. */
  ttlMs: number;
  /**
   * Refuse an existing bucket whose TTL differs (the leases bucket, whose TTL is part of the
   * safety argument); otherwise an existing bucket is used as it is.
   */
  requireTtl: boolean;
}

/**
 * Opens a KV bucket, creating it when absent, with one value per key (history 1: only the
 * latest revision matters to liveness and ownership, and old ones would only cost space).
 */
export async function openTtlBucket(
  connection: ClusterConnection,
  name: string,
  options: TtlBucketOptions,
): Promise<KV> {
  let kv: KV;
  let actualTtlMs: number;
  try {
    kv = await connection.kvm.create(name, {
      ttl: options.ttlMs,
      history: 1,
      timeout: connection.requestTimeoutMs,
    });
    actualTtlMs = (await kv.status()).ttl;
  } catch (error) {
    throw new ClusterUnavailableError(
      "request_failed",
      `cannot open the KV bucket ${name}: ${messageOf(error)}`,
      error,
    );
  }
  if (options.requireTtl && actualTtlMs !== options.ttlMs) {
    throw new ClusterBucketMismatchError(name, options.ttlMs, actualTtlMs);
  }
  return kv;
}

/**
 * Whether a KV write was refused because the key's latest revision is not the one expected
 * (create of an existing key, update or delete with a stale revision). Anything else — a
 * timeout, a closed connection — says nothing about who holds the key.
 */
export function isRevisionConflict(connection: ClusterConnection, error: unknown): boolean {
  const { JetStreamApiError, JetStreamApiCodes } = connection.client.jetstream;
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}
