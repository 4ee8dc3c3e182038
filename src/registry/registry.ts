import { IdTable } from "../runtime/id-table.js";
import {
  type ExitReason,
  InvalidArgumentError,
  type Logger,
  type NameService,
  NoProcError,
  Pid,
  type Runtime,
} from "../runtime/index.js";
import { NameTakenError, UnsupportedKeyModeError } from "./errors.js";

export type KeyMode = "unique" | "duplicate";

export interface RegistryEntry<V = unknown> {
  key: string;
  pid: Pid;
  value: V;
}

export interface RegistryOptions {
  keys: KeyMode;
  /** Resolve `call`/`cast`/`send`/`exit` targets given as strings through this registry (unique only). */
  names?: boolean;
  logger?: Logger;
}

export type RegisterEvent<V> = RegistryEntry<V>;
export type UnregisterEvent<V> = RegistryEntry<V> & { cause: "unregister" | "exit"; reason?: ExitReason };

interface Listeners<V> {
  register: Set<(event: RegisterEvent<V>) => void>;
  unregister: Set<(event: UnregisterEvent<V>) => void>;
}

export const MAX_KEY_LENGTH = 512;

export function checkKey(key: unknown, what = "key"): asserts key is string {
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new InvalidArgumentError(
      what,
      `must be a non-empty string of at most ${MAX_KEY_LENGTH} characters`,
    );
  }
}

/** The pid holding a unique key, kept alone or in its entry. */
function pidOf<V>(held: Pid | RegistryEntry<V>): Pid {
  return held instanceof Pid ? held : held.pid;
}

/** A unique key's entry: a copy of the one kept, or made for a pid kept alone (its value undefined). */
function entryOf<V>(key: string, held: Pid | RegistryEntry<V>): RegistryEntry<V> {
  return held instanceof Pid ? { key, pid: held, value: undefined as V } : { ...held };
}

/** The process whose entries an operation acts on (Elixir's `self()`). */
function checkOwner(pid: unknown): asserts pid is Pid {
  if (!pid || typeof pid !== "object" || typeof (pid as Pid).equals !== "function") {
    throw new InvalidArgumentError(
      "pid",
      "must be the Pid whose entries to act on (as Elixir acts for self())",
    );
  }
}

/**
 * Elixir's Registry: keys to processes, removed the moment the process exits. A unique registry
 * holds one process per key and can serve as the runtime's name service; a duplicate registry
 * holds many, which is what pub/sub is built on. Lookups are plain map reads and never involve
 * the registered process.
 */
export class Registry<V = unknown> implements NameService {
  readonly mode: KeyMode;
  /**
   * A unique registry's keys: the holder's Pid alone when it registered without a value (a name,
   * as every process of a session registers), else its entry. The pid is an object kept anyway;
   * an entry is one more (48 bytes) per key. Only an entry is ever anything but a Pid instance.
   */
  private readonly unique = new Map<string, Pid | RegistryEntry<V>>();
  private readonly duplicate = new Map<string, RegistryEntry<V>[]>();
  /**
   * Keys by the id of a pid of this node. Most processes hold one key, so a lone string avoids
   * an array each; an IdTable, as a new process's id is next to the ids registered just before.
   */
  private readonly byPid = new IdTable<string | string[]>();
  /** Keys held by processes of other nodes (hosts), by pid text: they leave when their node says so. */
  private readonly byRemotePid = new Map<string, string[]>();
  private readonly listeners: Listeners<V> = { register: new Set(), unregister: new Set() };
  private readonly logger: Logger;
  private readonly detach: (() => void)[] = [];

  constructor(
    private readonly runtime: Runtime,
    options: RegistryOptions,
  ) {
    if (options?.keys !== "unique" && options?.keys !== "duplicate") {
      throw new InvalidArgumentError("keys", 'must be "unique" or "duplicate"');
    }
    this.mode = options.keys;
    this.logger = options.logger ?? runtime.logger;
    if (options.names) {
      if (this.mode !== "unique")
        throw new InvalidArgumentError("names", "only a unique registry can resolve names");
      this.detach.push(runtime.useNames(this));
    }
    const stopListening = runtime.onExit((pid, reason) => this.removePid(pid, reason));
    this.detach.push(() => {
      stopListening();
    });
  }

  register(key: string, pid: Pid, value?: V): void {
    checkKey(key);
    this.checkLocal(pid);
    if (!this.runtime.isAlive(pid)) throw new NoProcError(String(pid));
    this.insert(key, pid, value);
  }

  /**
   * Mirrors a key held by a process of another node (a host), so that lookups and name
   * resolution here find it. The node removes it again (`unregisterRemote`, `dropNode`).
   */
  registerRemote(key: string, pid: Pid, value?: V): void {
    checkKey(key);
    if (!pid || typeof pid !== "object" || pid.node === this.runtime.node) {
      throw new InvalidArgumentError("pid", "must be a Pid of another node");
    }
    this.insert(key, pid, value);
  }

  /** Removes a mirrored key of a process of another node, as if that process had exited. */
  unregisterRemote(key: string, pid: Pid, reason: ExitReason = "normal"): void {
    for (const entry of this.removeEntries(key, pid)) {
      this.unindexKey(entry.pid, key);
      this.emit("unregister", { ...entry, cause: "exit", reason });
    }
  }

  /** Removes every mirrored key of `node`'s processes: the node is gone. */
  dropNode(node: string, reason: ExitReason): void {
    for (const [text, keys] of [...this.byRemotePid]) {
      if (!text.startsWith(`<${node}.`)) continue;
      for (const key of [...keys]) {
        const pid = this.lookup(key).find((entry) => entry.pid.toString() === text)?.pid;
        if (pid) this.unregisterRemote(key, pid, reason);
      }
      this.byRemotePid.delete(text);
    }
  }

  private insert(key: string, pid: Pid, value: V | undefined): void {
    if (this.mode === "unique") {
      const holder = this.unique.get(key);
      if (holder) throw new NameTakenError(key, pidOf(holder));
      if (value === undefined && pid instanceof Pid) {
        this.unique.set(key, pid);
        this.indexKey(pid, key);
        // The listeners get an entry of their own, as `lookup` gives a copy.
        if (this.listeners.register.size > 0) this.emit("register", { key, pid, value: value as V });
        return;
      }
      const entry: RegistryEntry<V> = { key, pid, value: value as V };
      this.unique.set(key, entry);
      this.indexKey(pid, key);
      this.emit("register", entry);
      return;
    }
    const entry: RegistryEntry<V> = { key, pid, value: value as V };
    const entries = this.duplicate.get(key);
    if (entries) entries.push(entry);
    else this.duplicate.set(key, [entry]);
    this.indexKey(pid, key);
    this.emit("register", entry);
  }

  /**
   * Removes `pid`'s entries under `key`, as Elixir's `Registry.unregister/2` does for the
   * calling process: another process's entries under the same key stay (on a unique registry,
   * a key held by another process stays). The owner is explicit because code outside any
   * process uses the registry too. Returns whether anything was removed.
   */
  unregister(key: string, pid: Pid): boolean {
    checkKey(key);
    checkOwner(pid);
    const removed = this.removeEntries(key, pid);
    for (const entry of removed) {
      this.unindexKey(entry.pid, key);
      this.emit("unregister", { ...entry, cause: "unregister" });
    }
    return removed.length > 0;
  }

  whereis(key: string): Pid | undefined {
    const held = this.unique.get(key);
    return held === undefined ? undefined : pidOf(held);
  }

  lookup(key: string): RegistryEntry<V>[] {
    if (this.mode === "unique") {
      const held = this.unique.get(key);
      return held ? [entryOf(key, held)] : [];
    }
    return (this.duplicate.get(key) ?? []).map((entry) => ({ ...entry }));
  }

  /** Every key `pid` is registered under. */
  keys(pid: Pid): string[] {
    const keys =
      pid.node === this.runtime.node ? this.byPid.get(pid.id) : this.byRemotePid.get(pid.toString());
    if (keys === undefined) return [];
    const all = typeof keys === "string" ? [keys] : [...keys];
    return all.filter((key) => this.holds(key, pid));
  }

  namesOf(pid: Pid): readonly string[] {
    return this.mode === "unique" ? this.keys(pid) : [];
  }

  count(): number {
    if (this.mode === "unique") return this.unique.size;
    let total = 0;
    for (const entries of this.duplicate.values()) total += entries.length;
    return total;
  }

  /** Whether any key is held: a check without a lookup, for callers that often find nothing. */
  isEmpty(): boolean {
    return this.mode === "unique" ? this.unique.size === 0 : this.duplicate.size === 0;
  }

  countKey(key: string): number {
    return this.mode === "unique" ? (this.unique.has(key) ? 1 : 0) : (this.duplicate.get(key)?.length ?? 0);
  }

  /** Entries whose key starts with `prefix`, or that satisfy a predicate. */
  select(selector: { prefix: string } | ((entry: RegistryEntry<V>) => boolean)): RegistryEntry<V>[] {
    const test =
      typeof selector === "function"
        ? selector
        : typeof selector?.prefix === "string"
          ? (entry: RegistryEntry<V>) => entry.key.startsWith(selector.prefix)
          : undefined;
    if (!test)
      throw new InvalidArgumentError("selector", "must be { prefix: string } or a predicate function");
    const out: RegistryEntry<V>[] = [];
    for (const entry of this.allEntries()) if (test(entry)) out.push({ ...entry });
    return out;
  }

  /**
   * Replaces the value `pid` holds under `key`; false when it holds nothing there. Unique
   * registries only, as Elixir's `Registry.update_value/3`: under a duplicate key one process
   * may hold several entries, and which one to update would be a guess.
   */
  updateValue(key: string, pid: Pid, update: (value: V) => V): boolean {
    if (this.mode !== "unique") {
      throw new UnsupportedKeyModeError(
        "updateValue",
        this.mode,
        "a process may hold several entries under one key; unregister and register again",
      );
    }
    checkKey(key);
    checkOwner(pid);
    const held = this.unique.get(key);
    if (!held || !pidOf(held).equals(pid)) return false;
    if (held instanceof Pid) this.unique.set(key, { key, pid: held, value: update(undefined as V) });
    else held.value = update(held.value);
    return true;
  }

  /** Calls `fn` with the entries under `key`; how OTP builds pub/sub on a duplicate registry. */
  dispatch(key: string, fn: (entries: RegistryEntry<V>[]) => void): void {
    const entries = this.lookup(key);
    if (entries.length > 0) fn(entries);
  }

  on(event: "register", listener: (event: RegisterEvent<V>) => void): () => void;
  on(event: "unregister", listener: (event: UnregisterEvent<V>) => void): () => void;
  on(event: "register" | "unregister", listener: (event: never) => void): () => void {
    const set = this.listeners[event] as Set<(event: never) => void> | undefined;
    if (!set) throw new InvalidArgumentError("event", 'must be "register" or "unregister"');
    if (typeof listener !== "function") throw new InvalidArgumentError("listener", "must be a function");
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Detaches from the runtime: stops tracking exits and resolving names. */
  close(): void {
    for (const undo of this.detach.splice(0)) undo();
  }

  private *allEntries(): Iterable<RegistryEntry<V>> {
    if (this.mode === "unique") for (const [key, held] of this.unique) yield entryOf(key, held);
    else for (const entries of this.duplicate.values()) yield* entries;
  }

  private holds(key: string, pid: Pid): boolean {
    if (this.mode === "unique") {
      const held = this.unique.get(key);
      return held !== undefined && pidOf(held).equals(pid);
    }
    return this.duplicate.get(key)?.some((entry) => entry.pid.equals(pid)) ?? false;
  }

  private removeEntries(key: string, pid: Pid): RegistryEntry<V>[] {
    if (this.mode === "unique") {
      const held = this.unique.get(key);
      if (!held || !pidOf(held).equals(pid)) return [];
      this.unique.delete(key);
      return [entryOf(key, held)];
    }
    const entries = this.duplicate.get(key);
    if (!entries) return [];
    const kept = entries.filter((entry) => !entry.pid.equals(pid));
    if (kept.length === entries.length) return [];
    const removed = entries.filter((entry) => entry.pid.equals(pid));
    if (kept.length > 0) this.duplicate.set(key, kept);
    else this.duplicate.delete(key);
    return removed;
  }

  private removePid(pid: Pid, reason: ExitReason): void {
    const keys = this.byPid.get(pid.id);
    if (keys === undefined) return;
    this.byPid.delete(pid.id);
    if (typeof keys === "string") this.removeOnExit(keys, pid, reason);
    else for (const key of keys) this.removeOnExit(key, pid, reason);
  }

  /**
   * Every registered process passes here when it exits: on a unique registry without
   * unregister listeners this allocates nothing (no array of one entry, no event).
   */
  private removeOnExit(key: string, pid: Pid, reason: ExitReason): void {
    if (this.mode === "unique") {
      const held = this.unique.get(key);
      if (!held || !pidOf(held).equals(pid)) return;
      this.unique.delete(key);
      if (this.listeners.unregister.size > 0)
        this.emit("unregister", { ...entryOf(key, held), cause: "exit", reason });
      return;
    }
    for (const entry of this.removeEntries(key, pid))
      this.emit("unregister", { ...entry, cause: "exit", reason });
  }

  private indexKey(pid: Pid, key: string): void {
    if (pid.node !== this.runtime.node) {
      const text = pid.toString();
      const held = this.byRemotePid.get(text);
      if (held) held.push(key);
      else this.byRemotePid.set(text, [key]);
      return;
    }
    const pidId = pid.id;
    const keys = this.byPid.get(pidId);
    if (keys === undefined) this.byPid.set(pidId, key);
    else if (typeof keys === "string") this.byPid.set(pidId, [keys, key]);
    else keys.push(key);
  }

  private unindexKey(pid: Pid, key: string): void {
    if (pid.node !== this.runtime.node) {
      const text = pid.toString();
      const held = this.byRemotePid.get(text);
      const index = held?.indexOf(key) ?? -1;
      if (held && index >= 0) held.splice(index, 1);
      if (held?.length === 0) this.byRemotePid.delete(text);
      return;
    }
    const pidId = pid.id;
    const keys = this.byPid.get(pidId);
    if (keys === undefined) return;
    if (typeof keys === "string") {
      if (keys === key) this.byPid.delete(pidId);
      return;
    }
    const index = keys.indexOf(key);
    if (index >= 0) keys.splice(index, 1);
    if (keys.length === 0) this.byPid.delete(pidId);
  }

  private checkLocal(pid: Pid): void {
    if (!pid || typeof pid !== "object" || typeof (pid as Pid).node !== "string") {
      throw new InvalidArgumentError("pid", "must be a Pid");
    }
    if (pid.node !== this.runtime.node) {
      throw new InvalidArgumentError("pid", `${pid} belongs to another runtime than ${this.runtime.node}`);
    }
  }

  private emit(event: "register", payload: RegisterEvent<V>): void;
  private emit(event: "unregister", payload: UnregisterEvent<V>): void;
  private emit(event: "register" | "unregister", payload: RegisterEvent<V> | UnregisterEvent<V>): void {
    const listeners = this.listeners[event] as Set<(event: typeof payload) => void>;
    // Most registries have no listener: no iterator for every key registered.
    if (listeners.size === 0) return;
    for (const listener of listeners) {
      try {
        listener(payload);
      } catch (error) {
        this.logger.error(
          { event: "registry_listener_failed", on: event, key: payload.key, err: error },
          "registry listener threw",
        );
      }
    }
  }
}
