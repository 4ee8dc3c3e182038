/**
 * What the connected NATS server can do that changes how leases and membership could work.
 * Detected from the version the server announces, since 2.9.x does not reject what it does not
 * know about loudly enough to probe safely (an unknown stream option can be ignored silently).
 */
export interface ClusterCapabilities {
  /** As the server announced it, e.g. "2.9.10". */
  readonly serverVersion: string;
  /**
   * Per-message TTL (`Nats-TTL`, server 2.11+): a key can carry its own lifetime instead of the
   * bucket's max_age. Not on 2.9.10, so every lease in a bucket has the bucket's TTL.
   */
  readonly perKeyTtl: boolean;
  /**
   * Delete markers when a key expires (`subject_delete_marker_ttl`, 2.11+): a watcher would see
   * an expiry as an event. On older servers an expired key vanishes without a word, which is
   * why membership judges silence by timestamps and a waiting claimant polls.
   */
  readonly expiryMarkers: boolean;
}

interface Version {
  major: number;
  minor: number;
  patch: number;
}

function parseVersion(text: string): Version | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (!match) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) };
}

function atLeast(version: Version | undefined, major: number, minor: number): boolean {
  if (!version) return false;
  return version.major > major || (version.major === major && version.minor >= minor);
}

/** The capabilities of a server of that version; an unparsable version is assumed to have none. */
export function capabilitiesOf(serverVersion: string): ClusterCapabilities {
  const version = parseVersion(serverVersion);
  return {
    serverVersion,
    perKeyTtl: atLeast(version, 2, 11),
    expiryMarkers: atLeast(version, 2, 11),
  };
}
