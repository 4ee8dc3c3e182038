// A lost database connection against the real PostgreSQL: an admin connection kills every
// backend of the store (pg_terminate_backend, as a server restart or a network cut would), and
// the store must answer with a typed error, never crash the process, and recover by itself.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import pg from "pg";
import { PostgresSessionStore, StoreUnavailableError } from "../src/store/index.js";
import { requirePostgres, TEST_POSTGRES_URL, TestSchemas } from "./support/postgres-test-db.js";

const schemas = new TestSchemas();
const opened: PostgresSessionStore[] = [];
after(async () => {
  for (const store of opened) await store.close().catch(() => undefined);
  await schemas.dropAll();
});

async function open(): Promise<{ store: PostgresSessionStore; app: string; schema: string }> {
  await requirePostgres();
  const app = `sv-outage-${randomBytes(4).toString("hex")}`;
  const schema = schemas.fresh();
  const store = await PostgresSessionStore.open({
    connectionString: TEST_POSTGRES_URL,
    schema,
    applicationName: app,
    poolSize: 3,
  });
  opened.push(store);
  return { store, app, schema };
}

/**
 * A TCP relay to the database that the test can cut (every connection dropped, new ones
 * refused) and heal: a network outage seen by this store alone, not by other tests sharing
 * the server.
 */
class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Each open relay: the client's socket and the database's. */
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();

  private constructor(
    private readonly target: { host: string; port: number },
    readonly port: number,
  ) {}

  static async start(url: URL): Promise<TcpProxy> {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const proxy = new TcpProxy({ host: url.hostname, port: Number(url.port || 5432) }, port);
    await proxy.heal();
    return proxy;
  }

  async heal(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on("error", () => undefined);
        socket.on("close", () => this.sockets.delete(socket));
      }
      client.pipe(upstream).pipe(client);
      const pair = { client, upstream };
      this.pairs.add(pair);
      client.on("close", () => {
        upstream.destroy();
        this.pairs.delete(pair);
      });
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", resolve);
    });
    this.server = server;
  }

  /**
   * The open connections drop the database's answers (the client waits, as behind a network
   * that lost them); when the database closes one, its client is closed too. New connections
   * are relayed as before.
   */
  dropAnswers(): void {
    for (const { client, upstream } of this.pairs) {
      upstream.unpipe(client);
      // Unpiped, the socket is paused: it must go on reading to see the database close it.
      upstream.on("data", () => undefined).resume();
    }
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  close(): Promise<void> {
    return this.cut();
  }
}

/** Kills every backend of the store; answers how many. */
async function killBackends(app: string): Promise<number> {
  const result = await schemas.sql(
    "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1",
    [app],
  );
  return result.rows.filter((row) => row.killed).length;
}

async function until(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 10));
}

async function untilWaitingOnLock(app: string): Promise<void> {
  for (;;) {
    const waiting = await schemas.sql(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
      [app],
    );
    if (waiting.rows[0].n > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The call again until it answers; each failure on the way must be a retryable StoreUnavailableError. */
async function untilItAnswers<T>(call: () => Promise<T>): Promise<{ value: T; failures: number }> {
  for (let failures = 0; ; failures++) {
    try {
      return { value: await call(), failures };
    } catch (error) {
      assert.ok(error instanceof StoreUnavailableError, `not a StoreUnavailableError: ${String(error)}`);
      assert.equal(error.retryable, true);
      assert.ok(failures < 3, "still failing after three tries");
    }
  }
}

describe("PostgresSessionStore when the database connection is lost", { timeout: 60_000 }, () => {
  it("answers the next calls after every idle connection of its pool was killed, on fresh connections", async () => {
    const { store, app } = await open();
    await store.putSession("s1", { n: 1 });
    // Three connections open and idle in the pool.
    await Promise.all([store.listSessions(), store.listSessions(), store.getSession("s1")]);
    assert.equal(await killBackends(app), 3);
    assert.deepEqual(await store.getSession("s1"), { id: "s1", record: { n: 1 } });
    await killBackends(app);
    await store.putSession("s1", { n: 2 });
    await killBackends(app);
    await store.changeConversation("s1", { append: [{ id: "t1" }] });
    await killBackends(app);
    await store.appendEvents([{ sessionId: "s1", seq: 1, event: "e" }], 10);
    await killBackends(app);
    await store.putConversations([["s2", { turns: [{ id: "t1" }] }]]);
    assert.deepEqual(await store.getSession("s1"), { id: "s1", record: { n: 2 } });
    assert.deepEqual(await store.getConversation("s1"), { turns: [{ id: "t1" }] });
    assert.deepEqual(await store.readEvents("s1", 0), [{ sessionId: "s1", seq: 1, event: "e" }]);
    assert.deepEqual(await store.getConversation("s2"), { turns: [{ id: "t1" }] });
  });

  it("runs a transaction whose connection is killed before its commit again on a fresh connection, and applies it once", async (t) => {
    const { store, app, schema } = await open();
    await store.putConversation("s1", { turns: [{ id: "t1" }] });
    // Another connection locks the conversation's row, so the change waits inside its
    // transaction (BEGIN sent, COMMIT not) while its backend is killed. (Not the admin one:
    // pg_stat_activity stays as it was when a transaction first read it.)
    const locker = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    locker.on("error", () => undefined);
    t.after(() => locker.end().catch(() => undefined));
    await locker.connect();
    await locker.query("BEGIN");
    await locker.query(`SELECT 1 FROM "${schema}".conversations WHERE id = 's1' FOR UPDATE`);
    const change = store.changeConversation("s1", { append: [{ id: "t2" }] });
    await untilWaitingOnLock(app);
    assert.equal(await killBackends(app), 1);
    // The retry waits on the same lock, until the admin lets go.
    await untilWaitingOnLock(app);
    await locker.query("ROLLBACK");
    await change;
    assert.deepEqual(await store.getConversation("s1"), { turns: [{ id: "t1" }, { id: "t2" }] });
  });

  it("holds a session's rows no longer than idleInTransactionTimeoutMs when its connection stops answering mid-write", async (t) => {
    await requirePostgres();
    const proxy = await TcpProxy.start(new URL(TEST_POSTGRES_URL));
    t.after(() => proxy.close());
    const url = new URL(TEST_POSTGRES_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    const schema = schemas.fresh();
    const app = `sv-stuck-${randomBytes(4).toString("hex")}`;
    const stuck = await PostgresSessionStore.open({
      connectionString: url.toString(),
      schema,
      applicationName: app,
      poolSize: 1,
      idleInTransactionTimeoutMs: 300,
    });
    opened.push(stuck);
    const other = await PostgresSessionStore.open({ connectionString: TEST_POSTGRES_URL, schema });
    opened.push(other);
    await stuck.putConversation("s1", { turns: [{ id: "t1" }] });

    // The change's first round trip (BEGIN, the conversation's row locked, the turn inserted)
    // reaches the database, but its answers never reach the store: the transaction stays open.
    proxy.dropAnswers();
    const change = stuck.changeConversation("s1", { append: [{ id: "t2" }] });
    const settled = change.then(
      () => undefined,
      (error: unknown) => error,
    );
    await until(async () => {
      const rows = await schemas.sql(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle in transaction'",
        [app],
      );
      return rows.rows[0].n > 0;
    });
    // Another node's write to the same conversation waits for the row only until the database
    // gives up on the stuck transaction (rolled back: its turn is not stored).
    await other.changeConversation("s1", { append: [{ id: "t3" }] });
    const outcome = await settled;
    if (outcome !== undefined) assert.ok(outcome instanceof StoreUnavailableError, String(outcome));
    const turns = ((await other.getConversation("s1")) as { turns: { id: string }[] }).turns.map((x) => x.id);
    // Run again on a fresh connection (COMMIT was never sent), or failed: never twice.
    assert.deepEqual(turns, outcome === undefined ? ["t1", "t3", "t2"] : ["t1", "t3"]);
  });

  it("fails calls with a retryable StoreUnavailableError while the network is cut, and answers again once it is back", async (t) => {
    await requirePostgres();
    const proxy = await TcpProxy.start(new URL(TEST_POSTGRES_URL));
    t.after(() => proxy.close());
    const url = new URL(TEST_POSTGRES_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    const store = await PostgresSessionStore.open({
      connectionString: url.toString(),
      schema: schemas.fresh(),
      connectTimeoutMs: 2000,
    });
    opened.push(store);
    await store.putSession("s1", { n: 1 });
    await proxy.cut();
    await assert.rejects(
      store.getSession("s1"),
      (e: unknown) => e instanceof StoreUnavailableError && e.retryable && e.code === "store_unavailable",
    );
    await assert.rejects(store.putSession("s1", { n: 2 }), StoreUnavailableError);
    await assert.rejects(store.changeConversation("s1", { append: [{ id: "t1" }] }), StoreUnavailableError);
    await proxy.heal();
    await untilItAnswers(() => store.putSession("s1", { n: 3 }));
    assert.deepEqual(await store.getSession("s1"), { id: "s1", record: { n: 3 } });
    assert.equal(await store.getConversation("s1"), undefined);
  });
});
