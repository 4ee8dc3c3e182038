import { createRequire } from "node:module";
import type BetterSqlite3 from "better-sqlite3";
import { InvalidArgumentError } from "../errors.js";
import {
  assertConversationChange,
  type ConversationChange,
  joinConversation,
  missingTurn,
  notTurnByTurn,
  splitConversation,
  turnIdOf,
} from "./conversation-change.js";
import {
  SqliteDriverMissingError,
  StoreClosedError,
  StoreCorruptError,
  StoreVersionError,
} from "./errors.js";
import { assertEventSeq } from "./event-seq.js";
import type {
  PutSessionOptions,
  SessionStore,
  StoredEvent,
  StoredJson,
  StoredSession,
} from "./session-store.js";
import { assertStoreKey } from "./store-key.js";
import { parseStoredText } from "./stored-text.js";
import { preallocateWal, walWorkingSize } from "./wal-preallocation.js";

type Db = BetterSqlite3.Database;

/**
 * better-sqlite3 is an optional peer dependency, loaded when the first SQLite store opens: a
 * program that keeps its sessions in memory needs no native module at all. (It is CommonJS, so
 * `require` loads it synchronously and `SqliteSessionStore.open` stays synchronous.)
 */
let driver: typeof BetterSqlite3 | undefined;

function sqliteDriver(): typeof BetterSqlite3 {
  if (driver) return driver;
  try {
    driver = createRequire(import.meta.url)("better-sqlite3") as typeof BetterSqlite3;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "MODULE_NOT_FOUND" && String((error as Error).message).includes("better-sqlite3")) {
      throw new SqliteDriverMissingError("not_installed", error);
    }
    throw error;
  }
  return driver;
}

/** better-sqlite3 loads its native module when the first database opens: whether that failed. */
function isUnbuiltDriver(error: unknown): boolean {
  const message = error instanceof Error ? error.message : "";
  return (
    (error as { code?: unknown })?.code === "ERR_DLOPEN_FAILED" ||
    /Could not locate the bindings file|better_sqlite3\.node/.test(message)
  );
}

type Migration = (db: Db) => void;

/** Schema version n is reached by running the first n migrations, each in its own transaction. */
const MIGRATIONS: readonly Migration[] = [
  (db) =>
    db.exec(`
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        record TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        snapshot TEXT NOT NULL
      ) STRICT;
    `),
  // 2: each session's event log, for subscribers that resume with `since`, and whether the
  // log's last user closed it.
  (db) =>
    db.exec(`
      CREATE TABLE session_events (
        session_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        event TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE store_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;
    `),
  // 3: conversations turn by turn, so that a turn costs the same at any history length: the
  // head (everything but the turns) stays in `conversations`, each turn is a row of its own.
  (db) => {
    db.exec(`
      ALTER TABLE conversations RENAME COLUMN snapshot TO head;
      ALTER TABLE conversations ADD COLUMN turn_by_turn INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE conversation_turns (
        session_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        turn_id TEXT,
        turn TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX conversation_turn_ids ON conversation_turns (session_id, turn_id, seq);
    `);
    const split = db.prepare("UPDATE conversations SET head = ?, turn_by_turn = 1 WHERE id = ?");
    const insert = db.prepare(
      "INSERT INTO conversation_turns (session_id, seq, turn_id, turn) VALUES (?, ?, ?, ?)",
    );
    const rows = db.prepare("SELECT id, head FROM conversations").all() as { id: string; head: string }[];
    for (const { id, head } of rows) {
      let conversation: StoredJson;
      try {
        conversation = JSON.parse(head) as StoredJson;
      } catch {
        continue; // Kept whole, as it was: reading it still reports it damaged.
      }
      const parts = splitConversation(conversation);
      if (!parts.turns) continue;
      split.run(JSON.stringify(parts.head), id);
      parts.turns.forEach((turn, i) => {
        insert.run(id, i + 1, turnIdOf(turn) ?? null, JSON.stringify(turn));
      });
    }
  },
];

export const STORE_SCHEMA_VERSION = MIGRATIONS.length;

const PUT_SESSION =
  "INSERT INTO sessions (id, record, updated_at) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at";

export interface SqliteStoreOptions {
  /** Refuse to create a missing file (default false: a new file is a new, empty store). */
  mustExist?: boolean;
  /**
   * Fill the WAL file with zeros, once, up to the size it reaches between two automatic
   * checkpoints, when the store opens (default true). About 4.5 MB with SQLite's defaults, written
   * and flushed in ~5 ms. Each durable commit (a `createSession`, a deletion) then writes over
   * blocks already on the disk instead of growing the file, so its fsync flushes only its own
   * data: on ext4 a create's commit took about half the time. Turn it off on a copy-on-write file
   * system (btrfs, ZFS), where no write lands in place and the zeros buy nothing. Skipped,
   * without an error, when another connection is writing or the file cannot be extended.
   */
  preallocateWal?: boolean;
}

/**
 * The embedded default store: one SQLite file in WAL mode, one connection. Lifecycle records
 * commit with `synchronous=FULL` (they survive a power cut), unless written with `durable:
 * false`; conversation writes commit with `synchronous=NORMAL`, which in WAL mode survives the
 * process being killed at any point and costs no fsync per turn; so do event log writes. A
 * damaged or foreign file is refused, never replaced.
 */
export class SqliteSessionStore implements SessionStore {
  private closed = false;
  private readonly statements;

  private constructor(
    readonly path: string,
    private readonly db: Db,
  ) {
    // Private to TypeScript only: from JavaScript, `new SqliteSessionStore(path)` gets here.
    if (typeof (db as Partial<Db> | undefined)?.prepare !== "function") {
      throw new InvalidArgumentError(
        "SqliteSessionStore",
        "is opened with SqliteSessionStore.open(path), not with new",
      );
    }
    this.statements = {
      putSession: db.prepare(PUT_SESSION),
      // One connection, its commits without an fsync but where a write says otherwise: a second
      // connection for the durable ones re-read the pages the other had changed at every switch.
      syncFully: db.prepare("PRAGMA synchronous = FULL"),
      syncNormally: db.prepare("PRAGMA synchronous = NORMAL"),
      getSession: db.prepare("SELECT record FROM sessions WHERE id = ?").pluck(),
      listSessions: db.prepare("SELECT id, record FROM sessions ORDER BY rowid"),
      deleteSession: db.prepare("DELETE FROM sessions WHERE id = ?"),
      deleteConversation: db.prepare("DELETE FROM conversations WHERE id = ?"),
      deleteTurns: db.prepare("DELETE FROM conversation_turns WHERE session_id = ?"),
      deleteEvents: db.prepare("DELETE FROM session_events WHERE session_id = ?"),
      appendEvent: db.prepare(
        "INSERT OR REPLACE INTO session_events (session_id, seq, event) VALUES (?, ?, ?)",
      ),
      readEvents: db.prepare(
        "SELECT seq, event FROM session_events WHERE session_id = ? AND seq > ? ORDER BY seq",
      ),
      trimEvents: db.prepare(
        "DELETE FROM session_events WHERE session_id = ? AND seq <= (SELECT seq FROM session_events WHERE session_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
      ),
      getState: db.prepare("SELECT value FROM store_state WHERE key = ?").pluck(),
      putState: db.prepare(
        "INSERT INTO store_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      ),
      // One index seek per session, not a scan of every event.
      lastEventSeqs: db.prepare(
        "SELECT id, seq FROM (SELECT id, (SELECT MAX(seq) FROM session_events WHERE session_id = sessions.id) AS seq FROM sessions) WHERE seq IS NOT NULL",
      ),
      putHead: db.prepare(
        "INSERT INTO conversations (id, head, turn_by_turn) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET head = excluded.head, turn_by_turn = excluded.turn_by_turn",
      ),
      getHead: db.prepare("SELECT head, turn_by_turn FROM conversations WHERE id = ?"),
      clearTurns: db.prepare("DELETE FROM conversation_turns WHERE session_id = ?"),
      insertTurn: db.prepare(
        "INSERT INTO conversation_turns (session_id, seq, turn_id, turn) VALUES (?, ?, ?, ?)",
      ),
      // Index seeks: the cost of a change does not grow with the history.
      lastTurnSeq: db.prepare("SELECT MAX(seq) FROM conversation_turns WHERE session_id = ?").pluck(),
      turnSeq: db
        .prepare("SELECT MAX(seq) FROM conversation_turns WHERE session_id = ? AND turn_id = ?")
        .pluck(),
      oldestTurnSeq: db
        .prepare("SELECT MIN(seq) FROM conversation_turns WHERE session_id = ? AND turn_id = ?")
        .pluck(),
      replaceTurn: db.prepare("UPDATE conversation_turns SET turn = ? WHERE session_id = ? AND seq = ?"),
      dropTurnsBefore: db.prepare("DELETE FROM conversation_turns WHERE session_id = ? AND seq < ?"),
      // One query: the head and every turn's text joined in order, parsed as one list.
      getConversation: db.prepare(
        "SELECT head, turn_by_turn, (SELECT group_concat(turn, ',' ORDER BY seq) FROM conversation_turns WHERE session_id = @id) AS turns FROM conversations WHERE id = @id",
      ),
    };
  }

  static open(path: string, options: SqliteStoreOptions = {}): SqliteSessionStore {
    if (typeof path !== "string" || path.length === 0 || path.includes("\0")) {
      throw new InvalidArgumentError("store path", "must be a file path");
    }
    assertOpenOptions(options);
    const Database = sqliteDriver();
    let db: Db | undefined;
    try {
      db = new Database(path, { fileMustExist: options.mustExist ?? false });
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = FULL");
      db.pragma("busy_timeout = 5000");
      migrate(db, path);
      db.pragma("synchronous = NORMAL");
      if (options.preallocateWal ?? true) preallocateWal(db, walWorkingSize(db));
      return new SqliteSessionStore(path, db);
    } catch (error) {
      db?.close();
      if (error instanceof StoreVersionError || error instanceof StoreCorruptError) throw error;
      if (isUnbuiltDriver(error)) throw new SqliteDriverMissingError("not_built", error);
      throw new StoreCorruptError(path, error);
    }
  }

  /**
   * A durable write commits with `synchronous=FULL` (an fsync of the WAL); one with `durable:
   * false` with `synchronous=NORMAL`. Both append to the one WAL in commit order,
   * so the next durable commit's fsync carries the lazy one to the disk with it: after a power
   * cut the file holds a prefix of the commits, never a later one without an earlier one.
   */
  async putSession(
    id: string,
    record: { [key: string]: StoredJson },
    options?: PutSessionOptions,
  ): Promise<void> {
    this.check(id);
    const text = JSON.stringify(record);
    if (options?.durable === false) this.statements.putSession.run(id, text, Date.now());
    else this.durably(() => this.statements.putSession.run(id, text, Date.now()));
  }

  async getSession(id: string): Promise<StoredSession | undefined> {
    this.check(id);
    const record = this.statements.getSession.get(id) as string | undefined;
    return record === undefined
      ? undefined
      : { id, record: parseStoredText(record, { sessionId: id, part: "record" }) as StoredSession["record"] };
  }

  async listSessions(): Promise<StoredSession[]> {
    this.check();
    return (this.statements.listSessions.all() as { id: string; record: string }[]).map((row) => ({
      id: row.id,
      record: parseStoredText(row.record, { sessionId: row.id, part: "record" }) as StoredSession["record"],
    }));
  }

  async deleteSession(id: string): Promise<void> {
    this.check(id);
    this.durably(
      this.db.transaction(() => {
        this.statements.deleteSession.run(id);
        this.statements.deleteConversation.run(id);
        this.statements.deleteTurns.run(id);
        this.statements.deleteEvents.run(id);
      }),
    );
  }

  async putConversation(id: string, conversation: StoredJson): Promise<void> {
    this.check(id);
    this.db.transaction(() => this.writeConversation(id, conversation))();
  }

  private writeConversation(id: string, conversation: StoredJson): void {
    const { head, turns } = splitConversation(conversation);
    this.statements.clearTurns.run(id);
    this.statements.putHead.run(id, JSON.stringify(head), turns ? 1 : 0);
    turns?.forEach((turn, i) => {
      this.statements.insertTurn.run(id, i + 1, turnIdOf(turn) ?? null, JSON.stringify(turn));
    });
  }

  /** One transaction: a failed check or write inside it rolls the whole change back. */
  async changeConversation(id: string, change: ConversationChange): Promise<void> {
    this.check(id);
    assertConversationChange(change);
    const s = this.statements;
    const entry = { sessionId: id, part: "conversation" } as const;
    this.db.transaction(() => {
      const row = s.getHead.get(id) as { head: string; turn_by_turn: number } | undefined;
      if (row && row.turn_by_turn !== 1) throw notTurnByTurn(id);
      for (const turn of change.replace ?? []) {
        const turnId = turnIdOf(turn) as string;
        const seq = s.turnSeq.get(id, turnId) as number | null;
        if (seq === null) throw missingTurn("replace", turnId, id);
        s.replaceTurn.run(JSON.stringify(turn), id, seq);
      }
      let seq = (s.lastTurnSeq.get(id) as number | null) ?? 0;
      for (const turn of change.append ?? [])
        s.insertTurn.run(id, ++seq, turnIdOf(turn) ?? null, JSON.stringify(turn));
      if (change.keepFrom !== undefined) {
        const first = s.oldestTurnSeq.get(id, change.keepFrom) as number | null;
        if (first === null) throw missingTurn("keepFrom", change.keepFrom, id);
        s.dropTurnsBefore.run(id, first);
      }
      if (row && change.set === undefined) return;
      const head = row ? (parseStoredText(row.head, entry) as object) : {};
      s.putHead.run(id, JSON.stringify({ ...head, ...change.set }), 1);
    })();
  }

  /** Writes many conversations in one transaction: one commit instead of one per session. */
  async putConversations(entries: [string, StoredJson][]): Promise<void> {
    this.check();
    for (const [id] of entries) assertStoreKey(id);
    this.db.transaction(() => {
      for (const [id, conversation] of entries) this.writeConversation(id, conversation);
    })();
  }

  async getConversation(id: string): Promise<StoredJson | undefined> {
    this.check(id);
    const row = this.statements.getConversation.get({ id }) as
      | { head: string; turn_by_turn: number; turns: string | null }
      | undefined;
    if (row === undefined) return undefined;
    const entry = { sessionId: id, part: "conversation" } as const;
    return row.turn_by_turn === 1
      ? joinConversation(row.head, row.turns ?? undefined, entry)
      : parseStoredText(row.head, entry);
  }

  /** One transaction for the batch and its trims; better-sqlite3 commits it before this returns. */
  async appendEvents(entries: StoredEvent[], keep?: number): Promise<void> {
    this.check();
    for (const entry of entries) {
      assertStoreKey(entry.sessionId);
      assertEventSeq(entry.seq, "seq");
    }
    if (keep !== undefined) assertEventSeq(keep, "keep", 0);
    const rows = entries.map((e) => [e.sessionId, e.seq, JSON.stringify(e.event)] as const);
    this.db.transaction(() => {
      for (const row of rows) this.statements.appendEvent.run(...row);
      if (keep === undefined) return;
      for (const id of new Set(entries.map((e) => e.sessionId))) this.statements.trimEvents.run(id, id, keep);
    })();
  }

  async readEvents(id: string, since: number): Promise<StoredEvent[]> {
    this.check(id);
    assertEventSeq(since, "since", 0);
    return (this.statements.readEvents.all(id, since) as { seq: number; event: string }[]).map((row) => ({
      sessionId: id,
      seq: row.seq,
      event: parseStoredText(row.event, { sessionId: id, part: "events" }),
    }));
  }

  async lastEventSeqs(): Promise<[string, number][]> {
    this.check();
    return (this.statements.lastEventSeqs.all() as { id: string; seq: number }[]).map((row) => [
      row.id,
      row.seq,
    ]);
  }

  /** The mark commits with the lifecycle records' `synchronous=FULL`: it survives a power cut. */
  async openEventLog(): Promise<boolean> {
    this.check();
    const before = this.statements.getState.get("event_log") as string | undefined;
    this.durably(() => this.statements.putState.run("event_log", "open"));
    return before !== "open";
  }

  async closeEventLog(): Promise<void> {
    this.check();
    this.durably(() => this.statements.putState.run("event_log", "closed"));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  /** Runs `write` as commits that fsync the WAL, on the connection that otherwise does not. */
  private durably(write: () => unknown): void {
    this.statements.syncFully.run();
    try {
      write();
    } finally {
      this.statements.syncNormally.run();
    }
  }

  private check(id?: string): void {
    if (this.closed) throw new StoreClosedError();
    if (id !== undefined) assertStoreKey(id);
  }
}

function assertOpenOptions(options: SqliteStoreOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError("store options", "must be an object");
  }
  for (const key of ["mustExist", "preallocateWal"] as const) {
    if (options[key] !== undefined && typeof options[key] !== "boolean") {
      throw new InvalidArgumentError(`store option ${key}`, "must be true or false");
    }
  }
}

function migrate(db: Db, path: string): void {
  // Reading the schema is the first real read: a damaged file fails here.
  const version = db.pragma("user_version", { simple: true }) as number;
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
  if (version > STORE_SCHEMA_VERSION) throw new StoreVersionError(path, version, STORE_SCHEMA_VERSION);
  if (version === 0 && tables.length > 0) {
    throw new StoreCorruptError(
      path,
      new Error(`it holds tables (${tables.join(", ")}) but is not a sessionvisor store`),
    );
  }
  for (let next = version; next < STORE_SCHEMA_VERSION; next++) {
    db.transaction(() => {
      (MIGRATIONS[next] as Migration)(db);
      db.pragma(`user_version = ${next + 1}`);
    })();
  }
  const check = db.pragma("quick_check", { simple: true });
  if (check !== "ok") throw new StoreCorruptError(path, new Error(String(check)));
}
