import type { SessionStore, StoredSession } from "../store/index.js";

/**
 * Who owns each session, as its stored config says (`config.owner`; null when it has none). A
 * session's owner never changes, so what has been read once is kept; an id not known yet is
 * looked up in the store (a session made by other code on the same system, or by a client a
 * moment ago). A record that is gone (purged) is not remembered as absent: the system answers
 * `session_not_found` for it anyway.
 */
export class SessionOwners {
  private readonly known = new Map<string, string | null>();

  constructor(private readonly store: SessionStore) {}

  /** Reads every stored session's owner at once (at server start). */
  async load(): Promise<void> {
    for (const stored of await this.store.listSessions()) this.known.set(stored.id, ownerIn(stored));
  }

  /** Records the owner of a session just created or imported. */
  set(id: string, owner: string | null): void {
    this.known.set(id, owner);
  }

  /** The owner (null: none), or undefined when the store has no such session. */
  async ownerOf(id: string): Promise<string | null | undefined> {
    const known = this.known.get(id);
    if (known !== undefined) return known;
    const stored = await this.store.getSession(id);
    if (stored === undefined) return undefined;
    const owner = ownerIn(stored);
    this.known.set(id, owner);
    return owner;
  }

  /** What is known without a store read: the owner, null, or undefined when not known yet. */
  cached(id: string): string | null | undefined {
    return this.known.get(id);
  }
}

function ownerIn(stored: StoredSession): string | null {
  const config = stored.record.config;
  if (typeof config !== "object" || config === null || Array.isArray(config)) return null;
  const owner = config.owner;
  return typeof owner === "string" ? owner : null;
}
