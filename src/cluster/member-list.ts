import { ClusterUnavailableError } from "./errors.js";
import { distinctKeys } from "./kv-keys.js";
import { type ClusterMember, decodeMemberEntry } from "./member-entry.js";
import { DEFAULT_NODES_BUCKET } from "./membership.js";
import { type ClusterConnection, messageOf } from "./nats-connection.js";

/** A node as a one-off look at the `nodes` bucket sees it: live, or silent past `deadAfterMs`. */
export interface ListedMember extends ClusterMember {
  live: boolean;
  /** How long before the bucket's newest heartbeat this node's last one was stored (server time). */
  silentForMs: number;
}

export interface ListMembersOptions {
  /** The membership bucket (default `sessionvisor_nodes`). */
  bucket?: string;
  /** A node whose last heartbeat is older than this, by the bucket's newest, is silent (default 3000 ms). */
  deadAfterMs?: number;
}

/**
 * The nodes of a cluster, read once from its `nodes` bucket without joining it (for
 * `sessionvisor nodes` and other tools). Liveness is judged as members judge it, by the NATS
 * server's own timestamps: a node is live when its last heartbeat is within `deadAfterMs` of
 * the newest heartbeat in the bucket. A bucket that does not exist yet is an empty cluster.
 */
export async function listMembers(
  connection: ClusterConnection,
  options: ListMembersOptions = {},
): Promise<ListedMember[]> {
  const bucket = options.bucket ?? DEFAULT_NODES_BUCKET;
  const deadAfterMs = options.deadAfterMs ?? 3000;
  const seen: ClusterMember[] = [];
  try {
    const kv = await connection.kvm.open(bucket);
    // One request about this bucket (`open` binds without asking the server), where listing
    // every bucket of the server took as long as the server had buckets.
    if (!(await bucketExists(kv))) return [];
    for (const key of await distinctKeys(kv)) {
      const got = await kv.get(key);
      if (got?.operation !== "PUT") continue;
      const entry = decodeMemberEntry(got.value);
      if (entry) seen.push({ ...entry, node: key, lastSeen: got.created });
    }
  } catch (error) {
    throw new ClusterUnavailableError(
      "request_failed",
      `cannot read the bucket ${bucket}: ${messageOf(error)}`,
      error,
    );
  }
  const newest = Math.max(...seen.map((member) => member.lastSeen.getTime()));
  return seen
    .map((member) => {
      const silentForMs = newest - member.lastSeen.getTime();
      return { ...member, live: silentForMs <= deadAfterMs, silentForMs };
    })
    .sort((a, b) => a.node.localeCompare(b.node));
}

/** JetStream's "stream not found" (10059): the bucket's stream does not exist. */
const STREAM_NOT_FOUND = 10059;

async function bucketExists(kv: { status(): Promise<unknown> }): Promise<boolean> {
  try {
    await kv.status();
    return true;
  } catch (error) {
    if ((error as { code?: unknown })?.code === STREAM_NOT_FOUND) return false;
    throw error;
  }
}
