import { InvalidArgumentError } from "../errors.js";
import { DEFAULT_NODES_BUCKET } from "./membership.js";
import { BUCKET_PATTERN } from "./options.js";
import { DEFAULT_LEASES_BUCKET } from "./session-leases.js";

/**
 * A cluster's KV bucket names: those given, the others named after its subject prefix —
 * `<prefix>_nodes` and `<prefix>_session_owner`, dots as `_` — which with the default prefix
 * are the default names (`sessionvisor_nodes`, `sessionvisor_session_owner`).
 */
export function clusterBuckets(
  prefix: string,
  given: { nodes?: string | undefined; leases?: string | undefined } = {},
): { nodes: string; leases: string } {
  const stem = prefix.replace(/\./g, "_");
  const named = (given: string | undefined, suffix: string, fallback: string): string => {
    if (given !== undefined) return given;
    if (prefix === "sessionvisor") return fallback;
    const name = `${stem}_${suffix}`;
    if (!BUCKET_PATTERN.test(name))
      throw new InvalidArgumentError(
        "buckets",
        `the prefix ${JSON.stringify(prefix)} makes the bucket name ${JSON.stringify(name)}, longer than 64 characters: name the buckets`,
      );
    return name;
  };
  return {
    nodes: named(given.nodes, "nodes", DEFAULT_NODES_BUCKET),
    leases: named(given.leases, "session_owner", DEFAULT_LEASES_BUCKET),
  };
}
