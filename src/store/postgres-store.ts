import type pg from "pg";
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
import { StoreClosedError } from "./errors.js";
import { assertEventSeq } from "./event-seq.js";
import { fencesOf, StaleFenceError } from "./fence.js";
import { connectionProblem, loadPgDriver, storeError } from "./postgres-driver.js";
import {
  describeTarget,
  type PostgresStoreOptions,
  type ResolvedPostgresStoreOptions,
  resolvePostgresStoreOptions,
} from "./postgres-options.js";
import { migrate, STALE_FENCE_STATE } from "./postgres-schema.js";
import { postgresStatements, type Statements } from "./postgres-sql.js";
import type {
  PutSessionOptions,
  SessionStore,
  StoredEvent,
  StoredJson,
  StoredSession,
} from "./session-store.js";
import { assertStoreKey } from "./store-key.js";
import { parseStoredText } from "./stored-text.js";

type Query = (text: string, values?: unknown[]) => Promise<pg.QueryResult>;

/** A conversation written whole: its head and turns as the tables keep them. */
interface ConversationRows {
  id: string;
  head: string;
  turnByTurn: boolean;
  turns: StoredJson[];
}

/**
 * The SessionStore on PostgreSQL, for several nodes sharing their sessions. Every table lives
 * in one schema (created and migrated on open). Calls share a connection pool: a call whose
 * pooled connection turns out dead runs again on a fresh one when that is safe, and otherwise
 * fails with StoreUnavailableError, as does a call while the database cannot be reached; the
 * store needs no restart when it answers again. A write the port calls "one commit" is one
 * transaction, or one statement. Commits are durable on return (the WAL is flushed), except a
 * record written with `durable: false` and, with `durableTurns: false`, the conversation and
 * event-log writes.
 *
 * With `fences` (cluster mode) every write that concerns a session carries its fence inside the
 * write's transaction: the session's row in `session_fences` is raised to it, and locked until
 * the commit, so that a write with a lower fence than one already seen is refused
 * (StaleFenceError) and writes nothing.
 */
export class PostgresSessionStore implements SessionStore {
  private closed = false;
  private readonly sql: Statements;
  private readonly fences: ResolvedPostgresStoreOptions["fences"];
  private readonly poolSize: number;
  private readonly durableTurns: boolean;
  /** Each statement's prepared name, the same on every connection of the pool. */
  private readonly names = new Map<string, string>();

  private constructor(
    private readonly pool: pg.Pool,
    options: ResolvedPostgresStoreOptions,
    /** Where the store is, for messages (no password). */
    readonly target: string,
  ) {
    // Private to TypeScript only: from JavaScript, `new PostgresSessionStore(…)` gets here.
    if (typeof (pool as Partial<pg.Pool> | undefined)?.query !== "function" || typeof options !== "object") {
      throw new InvalidArgumentError(
        "PostgresSessionStore",
        "is opened with await PostgresSessionStore.open(options), not with new",
      );
    }
    this.sql = postgresStatements(options.schema);
    this.fences = options.fences;
    this.poolSize = options.poolSize;
    this.durableTurns = options.durableTurns;
  }

  /** Connects, creates or migrates the schema, and answers the store. */
  static async open(options: PostgresStoreOptions): Promise<PostgresSessionStore> {
    const resolved = resolvePostgresStoreOptions(options);
    const target = describeTarget(resolved.connectionString, resolved.schema);
    const { Pool } = await loadPgDriver();
    const pool = new Pool({
      ...(resolved.connectionString === undefined ? {} : { connectionString: resolved.connectionString }),
      max: resolved.poolSize,
      connectionTimeoutMillis: resolved.connectTimeoutMs,
      application_name: resolved.applicationName,
      idle_in_transaction_session_timeout: resolved.idleInTransactionTimeoutMs,
      // A connection the server or network dropped is found out instead of hanging a call.
      keepAlive: true,
      // A transaction's statements go out without waiting for each other's answers.
      pipeline: true,
    });
    // An idle connection that breaks (the server restarted, an admin killed it) is dropped by
    // the pool and reported here; without a listener the process would crash. The next call
    // opens a fresh connection, and a call that was using it fails with StoreUnavailableError.
    pool.on("error", () => undefined);
    try {
      const client = await pool.connect();
      client.on("error", ignore);
      try {
        await migrate(client, resolved.schema, target);
      } finally {
        client.removeListener("error", ignore);
        client.release();
      }
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw storeError(error, target);
    }
    return new PostgresSessionStore(pool, resolved, target);
  }

  /** `durable: false` commits without waiting for the WAL flush (see `statement`). */
  async putSession(
    id: string,
    record: { [key: string]: StoredJson },
    options?: PutSessionOptions,
  ): Promise<void> {
    this.check(id);
    const text = JSON.stringify(record);
    const durable = options?.durable !== false;
    if (!this.fences) {
      await this.statement(this.sql.putSession, [id, text], durable);
      return;
    }
    const fence = this.fenceOf(id);
    const result = await this.statement(this.sql.putSessionFenced, [id, text, fence], durable);
    if (!result.rows[0]?.fenced) await this.refuse(this.query, [[id, fence]]);
  }

  async getSession(id: string): Promise<StoredSession | undefined> {
    this.check(id);
    const row = (await this.query(this.sql.getSession, [id])).rows[0] as { record: string } | undefined;
    return row === undefined
      ? undefined
      : {
          id,
          record: parseStoredText(row.record, { sessionId: id, part: "record" }) as StoredSession["record"],
        };
  }

  async listSessions(): Promise<StoredSession[]> {
    this.check();
    const rows = (await this.query(this.sql.listSessions)).rows as { id: string; record: string }[];
    return rows.map((row) => ({
      id: row.id,
      record: parseStoredText(row.record, { sessionId: row.id, part: "record" }) as StoredSession["record"],
    }));
  }

  /** One statement: the record, conversation, turns and events go together. The fence stays. */
  async deleteSession(id: string): Promise<void> {
    this.check(id);
    if (!this.fences) {
      await this.query(this.sql.deleteSession, [id]);
      return;
    }
    const fence = this.fenceOf(id);
    const result = await this.query(this.sql.deleteSessionFenced, [id, fence]);
    if (!result.rows[0]?.fenced) await this.refuse(this.query, [[id, fence]]);
  }

  async putConversation(id: string, conversation: StoredJson): Promise<void> {
    this.check(id);
    await this.putConversations([[id, conversation]]);
  }

  /** One transaction for the batch: every old turn of these sessions goes, the new ones come. */
  async putConversations(entries: [string, StoredJson][]): Promise<void> {
    this.check();
    for (const [id] of entries) assertStoreKey(id);
    if (entries.length === 0) return;
    // The last entry of a session is what a sequence of puts would have left.
    const last = new Map<string, StoredJson>();
    for (const [id, conversation] of entries) {
      last.delete(id);
      last.set(id, conversation);
    }
    const rows: ConversationRows[] = [...last].map(([id, conversation]) => {
      const { head, turns } = splitConversation(conversation);
      return { id, head: JSON.stringify(head), turnByTurn: turns !== undefined, turns: turns ?? [] };
    });
    const ids = rows.map((row) => row.id);
    const fences = this.fences ? fencesOf(this.fences, ids) : undefined;
    const turnRows = rows.flatMap((r) => r.turns.map((turn, i) => [r.id, i + 1, turn] as const));
    // Every statement goes out at once; the commit checks that each succeeded.
    await this.transaction(
      async (q) => {
        if (fences) this.claim(q, fences);
        q(this.sql.deleteTurnsOf, [ids]);
        q(this.sql.putHeads, [ids, rows.map((r) => r.head), rows.map((r) => r.turnByTurn)]);
        if (turnRows.length === 0) return;
        q(this.sql.insertTurns, [
          turnRows.map(([id]) => id),
          turnRows.map(([, seq]) => seq),
          turnRows.map(([, , turn]) => turnIdOf(turn) ?? null),
          turnRows.map(([, , turn]) => JSON.stringify(turn)),
        ]);
      },
      { idempotent: true, durable: this.durableTurns },
    );
  }

  async getConversation(id: string): Promise<StoredJson | undefined> {
    this.check(id);
    const row = (await this.query(this.sql.getConversation, [id])).rows[0] as
      | { head: string; turn_by_turn: boolean; turns: string | null }
      | undefined;
    if (row === undefined) return undefined;
    const entry = { sessionId: id, part: "conversation" } as const;
    return row.turn_by_turn
      ? joinConversation(row.head, row.turns ?? undefined, entry)
      : parseStoredText(row.head, entry);
  }

  /**
   * One transaction in two round trips: the checks and the turn writes go out together (the
   * conversation's row created if missing and locked first, so concurrent changes to one
   * conversation apply one after the other); once their answers are checked, the head and the
   * commit follow — or a rollback, and nothing of the change stays.
   */
  async changeConversation(id: string, change: ConversationChange): Promise<void> {
    this.check(id);
    assertConversationChange(change);
    const fences = this.fences ? fencesOf(this.fences, [id]) : undefined;
    const s = this.sql;
    const entry = { sessionId: id, part: "conversation" } as const;
    // Replacing one id twice leaves the last: the same as applying them in order.
    const replaced = new Map<string, string>();
    for (const turn of change.replace ?? []) {
      const turnId = turnIdOf(turn) as string;
      replaced.delete(turnId);
      replaced.set(turnId, JSON.stringify(turn));
    }
    await this.transaction(
      async (q) => {
        if (fences) this.claim(q, fences);
        // A conversation not stored yet starts empty, as `{ turns: [] }`.
        const started = q(s.startHead, [id]);
        const locked = q(s.lockHead, [id]);
        const replacing =
          replaced.size > 0
            ? q(s.replaceTurns, [id, [...replaced.keys()], [...replaced.values()]])
            : undefined;
        if (change.append && change.append.length > 0) {
          q(s.appendTurns, [
            id,
            change.append.map((turn) => turnIdOf(turn) ?? null),
            change.append.map((turn) => JSON.stringify(turn)),
          ]);
        }
        const keeping = change.keepFrom !== undefined ? q(s.keepTurnsFrom, [id, change.keepFrom]) : undefined;

        const stored = (await started).rowCount === 0;
        const row = (await locked).rows[0] as { head: string; turn_by_turn: boolean };
        if (!row.turn_by_turn) throw notTurnByTurn(id);
        if (replacing) {
          const found = new Set((await replacing).rows.map((r: { turn_id: string }) => r.turn_id));
          for (const turnId of replaced.keys())
            if (!found.has(turnId)) throw missingTurn("replace", turnId, id);
        }
        if (keeping && (await keeping).rows[0]?.first === null)
          throw missingTurn("keepFrom", change.keepFrom as string, id);
        if (stored && change.set === undefined) return;
        const head = parseStoredText(row.head, entry) as object;
        q(s.setHead, [id, JSON.stringify({ ...head, ...change.set })]);
      },
      { idempotent: false, durable: this.durableTurns },
    );
  }

  /**
   * Events of one batch are written in one statement; a batch with `keep`, or a fenced one, is
   * one transaction with its trims and fences.
   */
  async appendEvents(entries: StoredEvent[], keep?: number): Promise<void> {
    this.check();
    for (const entry of entries) {
      assertStoreKey(entry.sessionId);
      assertEventSeq(entry.seq, "seq");
    }
    if (keep !== undefined) assertEventSeq(keep, "keep", 0);
    if (entries.length === 0) return;
    // An entry appended again under its seq replaces the earlier one, within a batch too.
    const rows = new Map<string, StoredEvent>();
    for (const entry of entries) {
      const key = `${entry.sessionId}\u0000${entry.seq}`;
      rows.delete(key);
      rows.set(key, entry);
    }
    const values = [
      [...rows.values()].map((e) => e.sessionId),
      [...rows.values()].map((e) => e.seq),
      [...rows.values()].map((e) => JSON.stringify(e.event)),
    ];
    const ids = [...new Set(entries.map((e) => e.sessionId))];
    const fences = this.fences ? fencesOf(this.fences, ids) : undefined;
    if (!fences && keep === undefined) {
      await this.statement(this.sql.appendEvents, values, this.durableTurns);
      return;
    }
    // One round trip: the fences, the events, the trims and the commit go out together.
    await this.transaction(
      async (q) => {
        if (fences) this.claim(q, fences);
        q(this.sql.appendEvents, values);
        if (keep !== undefined) q(this.sql.trimEvents, [ids, keep]);
      },
      { idempotent: true, durable: this.durableTurns },
    );
  }

  async readEvents(id: string, since: number): Promise<StoredEvent[]> {
    this.check(id);
    assertEventSeq(since, "since", 0);
    const rows = (await this.query(this.sql.readEvents, [id, since])).rows as {
      seq: string;
      event: string;
    }[];
    return rows.map((row) => ({
      sessionId: id,
      seq: Number(row.seq),
      event: parseStoredText(row.event, { sessionId: id, part: "events" }),
    }));
  }

  async lastEventSeqs(): Promise<[string, number][]> {
    this.check();
    const rows = (await this.query(this.sql.lastEventSeqs)).rows as { id: string; seq: string }[];
    return rows.map((row) => [row.id, Number(row.seq)]);
  }

  /** Reads and sets the mark in one statement. */
  async openEventLog(): Promise<boolean> {
    this.check();
    const row = (await this.queryOnce(this.sql.openEventLog)).rows[0] as { before: string | null };
    return row.before !== "open";
  }

  async closeEventLog(): Promise<void> {
    this.check();
    await this.query(this.sql.closeEventLog);
  }

  /** Closes the pool: waits for the calls in flight, then closes every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private check(id?: string): void {
    if (this.closed) throw new StoreClosedError();
    if (id !== undefined) assertStoreKey(id);
  }

  private fenceOf(id: string): number {
    return fencesOf(this.fences as NonNullable<typeof this.fences>, [id]).get(id) as number;
  }

  /**
   * A statement with parameters as a named prepared statement: each connection parses and
   * plans it once, not on every call (for the small statements of a turn, planning costs as
   * much as running them). Statements without parameters (BEGIN, COMMIT) go as they are.
   */
  private prepared(text: string, values: unknown[] | undefined): pg.QueryConfig {
    if (values === undefined) return { text };
    let name = this.names.get(text);
    if (name === undefined) {
      name = `sessionvisor_${this.names.size + 1}`;
      this.names.set(text, name);
    }
    return { name, text, values };
  }

  /**
   * One idempotent statement (every single-statement call but openEventLog): repeating it
   * leaves what one run leaves, so it is retried when its connection turns out to be dead.
   */
  private readonly query: Query = (text, values) =>
    this.onConnection(
      async (client) => (await client.query(this.prepared(text, values))) as pg.QueryResult,
      () => true,
    );

  /** One statement that must not run twice (it reads what it writes). */
  private readonly queryOnce: Query = (text, values) =>
    this.onConnection(
      async (client) => (await client.query(this.prepared(text, values))) as pg.QueryResult,
      () => false,
    );

  /**
   * One idempotent statement, committed durably (the commit returns once the WAL is flushed)
   * or not: with `synchronous_commit = off` it returns before the flush, which follows within
   * a fraction of a second. Either way it is on the server, visible to every node, and survives
   * this process dying; only a crash of the database server can lose a non-durable commit, and
   * never one without the commits before it (the WAL is flushed in order).
   */
  private async statement(text: string, values: unknown[], durable: boolean): Promise<pg.QueryResult> {
    if (durable) return this.query(text, values);
    let result: pg.QueryResult | undefined;
    await this.transaction(
      async (q) => {
        result = await q(text, values);
      },
      { idempotent: true, durable: false },
    );
    return result as pg.QueryResult;
  }

  /**
   * Runs `body` in a transaction: committed when it returns, rolled back when it throws. The
   * connections are pipelined: `body` sends statements without waiting for their answers and
   * awaits only those it must read, and the commit follows the last one. A statement that
   * fails aborts the transaction on the server, so the COMMIT that follows it rolls back; the
   * first failure is what the caller gets. The transaction runs again on another connection
   * when its connection died before COMMIT was sent (the server rolled it back), or at any point
   * when it is `idempotent` (running it twice leaves what running it once leaves); otherwise a
   * connection lost after COMMIT was sent leaves the outcome unknown, and the call fails.
   */
  private async transaction(
    body: (q: Query) => Promise<void> | void,
    { idempotent, durable }: { idempotent: boolean; durable: boolean },
  ): Promise<void> {
    let committing = false;
    await this.onConnection(
      async (client) => {
        committing = false;
        let failed: { error: unknown } | undefined;
        const q: Query = (text, values) => {
          const sent = client.query(this.prepared(text, values)) as Promise<pg.QueryResult>;
          // Every answer is checked: an unread failure still reaches the caller through the commit.
          sent.catch((error: unknown) => {
            failed ??= { error };
          });
          return sent;
        };
        q("BEGIN");
        if (!durable) q("SET LOCAL synchronous_commit = off");
        try {
          await body(q);
        } catch (error) {
          await q("ROLLBACK").catch(() => undefined);
          throw failed && failed.error !== error ? failed.error : error;
        }
        committing = true;
        const commit = await q("COMMIT").catch((error: unknown) => {
          throw failed?.error ?? error;
        });
        if (failed) throw failed.error;
        if (commit.command !== "COMMIT") throw new Error(`the transaction ended with ${commit.command}`);
      },
      () => idempotent || !committing,
    );
  }

  /**
   * Runs `work` on a pooled connection. A connection that broke is destroyed, not returned to
   * the pool; the work is then tried again on another connection when `mayRetry` allows, as
   * many times as the pool may hold connections opened before the outage. Failing to open a
   * connection is not retried: the database is down or unreachable, and the caller hears so at
   * once. Every connection problem reaches the caller as StoreUnavailableError.
   */
  private async onConnection<T>(
    work: (client: pg.PoolClient) => Promise<T>,
    mayRetry: () => boolean,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (error) {
        throw this.closed && isPoolEnded(error) ? new StoreClosedError() : storeError(error, this.target);
      }
      // A connection that breaks while checked out emits 'error'; the statement it was running
      // (or the next one) fails and says so, so the event itself is only acknowledged here.
      client.on("error", ignore);
      let broken: Error | undefined;
      try {
        return await work(client);
      } catch (error) {
        const problem = connectionProblem(error);
        if (problem === undefined) throw staleFence(error) ?? error;
        broken = error as Error;
        if (problem === "retryable" && attempt < this.poolSize && !this.closed && mayRetry()) continue;
        throw storeError(error, this.target);
      } finally {
        client.removeListener("error", ignore);
        client.release(broken);
      }
    }
  }

  /**
   * Raises each session's stored fence to the write's, locking its row until the commit, or
   * fails (SQLSTATE SV001, see the schema's claim_fences) when one is higher: the transaction
   * then commits nothing. Rows are locked in id order, so two batches never wait on each other
   * in a cycle.
   */
  private claim(q: Query, fences: Map<string, number>): void {
    const sorted = [...fences].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    q(this.sql.claimFences, [sorted.map(([id]) => id), sorted.map(([, f]) => f)]);
  }

  /** Throws StaleFenceError for the first of these writes, with the fence the store holds. */
  private async refuse(q: Query, stale: [string, number][]): Promise<never> {
    const [id, fence] = stale[0] as [string, number];
    const row = (await q(this.sql.currentFence, [id])).rows[0] as { fence: string } | undefined;
    throw new StaleFenceError(id, fence, row === undefined ? undefined : Number(row.fence));
  }
}

function ignore(): void {}

/** The StaleFenceError claim_fences failed with, if it did. */
function staleFence(error: unknown): StaleFenceError | undefined {
  if ((error as { code?: unknown })?.code !== STALE_FENCE_STATE) return undefined;
  const detail = JSON.parse(String((error as { detail?: unknown }).detail)) as {
    sessionId: string;
    fence: number;
    current: number;
  };
  return new StaleFenceError(detail.sessionId, Number(detail.fence), Number(detail.current));
}

function isPoolEnded(error: unknown): boolean {
  return error instanceof Error && /Cannot use a pool after calling end/.test(error.message);
}
