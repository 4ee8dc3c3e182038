import { InvalidArgumentError } from "../runtime/index.js";
import { assertFilePath } from "./file-path.js";
import { assertSessionId } from "./session-id.js";

/**
 * A cache of file contents (or anything derived from a file) keyed by (session, path). Each
 * session sees only its own entries, and a terminated session's entries are cleared — the
 * original kept them forever.
 */
export class ContextStore<V = unknown> {
  private readonly sessions = new Map<string, Map<string, V>>();
  private readonly maxEntriesPerSession: number;

  constructor(options: { maxEntriesPerSession?: number } = {}) {
    this.maxEntriesPerSession = options.maxEntriesPerSession ?? 1000;
    if (!(Number.isInteger(this.maxEntriesPerSession) && this.maxEntriesPerSession > 0)) {
      throw new InvalidArgumentError("maxEntriesPerSession", "must be a positive whole number");
    }
  }

  set(sessionId: string, path: string, value: V): void {
    assertSessionId(sessionId);
    assertFilePath(path);
    let entries = this.sessions.get(sessionId);
    if (!entries) {
      entries = new Map();
      this.sessions.set(sessionId, entries);
    }
    entries.delete(path);
    entries.set(path, value);
    // Maps iterate in insertion order, so the first key is the least recently written.
    if (entries.size > this.maxEntriesPerSession) entries.delete(entries.keys().next().value as string);
  }

  get(sessionId: string, path: string): V | undefined {
    assertSessionId(sessionId);
    return this.sessions.get(sessionId)?.get(path);
  }

  has(sessionId: string, path: string): boolean {
    assertSessionId(sessionId);
    return this.sessions.get(sessionId)?.has(path) ?? false;
  }

  delete(sessionId: string, path: string): boolean {
    assertSessionId(sessionId);
    return this.sessions.get(sessionId)?.delete(path) ?? false;
  }

  entries(sessionId: string): [string, V][] {
    assertSessionId(sessionId);
    return [...(this.sessions.get(sessionId) ?? [])];
  }

  /** Removes every entry of a session; returns how many there were. */
  clearSession(sessionId: string): number {
    assertSessionId(sessionId);
    const count = this.sessions.get(sessionId)?.size ?? 0;
    this.sessions.delete(sessionId);
    return count;
  }

  get size(): number {
    let total = 0;
    for (const entries of this.sessions.values()) total += entries.size;
    return total;
  }
}
