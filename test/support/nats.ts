// What the cluster tests share: connections to the real NATS server (127.0.0.1:4222 with
// JetStream, as on every machine of this project and in CI), names no other test uses, and a
// teardown that closes every connection and deletes every stream (KV buckets included) the test
// made — even when the test fails. A missing server fails the test with a message saying how to
// start it; it never skips silently.
import { randomBytes } from "node:crypto";
import type { TestContext } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";

export const NATS_URL = process.env.SESSIONVISOR_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

const START_HINT =
  "start it with `start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- " +
  "-a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log` (or run .ci/run, " +
  "which starts it when it is not running)";

/** Thrown when the test's NATS server is not there, or runs without JetStream. */
export class NatsNotReachableError extends Error {
  constructor(problem: string, cause?: unknown) {
    super(`NATS with JetStream is not reachable at ${hostOf(NATS_URL)} (${problem}): ${START_HINT}`, {
      cause,
    });
    this.name = "NatsNotReachableError";
  }
}

function hostOf(url: string): string {
  return url.replace(/^nats:\/\//, "");
}

/** Bounded teardown steps: a wedged server must not hang the test file. */
const TEARDOWN_STEP_MS = 5000;

export interface NatsFixture {
  /** The server's URL (for code under test that takes `servers`). */
  readonly url: string;
  /**
   * Unique to this test: `[A-Za-z0-9_]` only, so it fits bucket, stream and consumer names and
   * is one subject token. Every bucket or stream this test makes must start with it (see
   * `bucket`), so the teardown finds it.
   */
  readonly prefix: string;
  /** A bucket name unique to this test: `<prefix>_<name>`. */
  bucket(name: string): string;
  /** A subject (or subject prefix) unique to this test: `test.<prefix>.<name>`. */
  subject(name: string): string;
  /** A new connection, closed at teardown (closing it earlier in the test is fine). */
  connect(name?: string): Promise<NatsConnection>;
}

let fixtures = 0;

/**
 * A NATS fixture for one test: connections and streams are cleaned up in `t.after`. The first
 * connection is made here, so a missing server fails the test at once with a clear message.
 */
export async function natsFixture(t: Pick<TestContext, "after">): Promise<NatsFixture> {
  fixtures += 1;
  const prefix = `t${process.pid}_${fixtures}_${randomBytes(4).toString("hex")}`;
  const connections: NatsConnection[] = [];

  const open = async (name: string): Promise<NatsConnection> => {
    let nc: NatsConnection;
    try {
      nc = await connect({ servers: NATS_URL, name, timeout: 3000, maxReconnectAttempts: 3 });
    } catch (error) {
      throw new NatsNotReachableError(error instanceof Error ? error.message : String(error), error);
    }
    connections.push(nc);
    return nc;
  };

  t.after(async () => {
    for (const nc of connections.splice(0)) await bounded(nc.close(), "closing a test connection");
    await deleteStreamsWithPrefix(prefix);
  });

  const first = await open(`${prefix}-check`);
  try {
    const jsm = await jetstreamManager(first, { timeout: 3000 });
    await jsm.getAccountInfo();
  } catch (error) {
    throw new NatsNotReachableError(
      `the server answers but JetStream does not: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  }

  return {
    url: NATS_URL,
    prefix,
    bucket: (name) => `${prefix}_${name}`,
    subject: (name) => `test.${prefix}.${name}`,
    connect: (name = `${prefix}-${connections.length}`) => open(name),
  };
}

/** Deletes every stream whose name holds the prefix: a KV bucket `b` is the stream `KV_b`. */
async function deleteStreamsWithPrefix(prefix: string): Promise<void> {
  // A fresh connection: the test may have closed, drained or broken its own.
  let admin: NatsConnection;
  try {
    admin = await connect({ servers: NATS_URL, name: `${prefix}-teardown`, timeout: 3000 });
  } catch {
    return; // the server is gone: nothing can be deleted, and the test has failed already
  }
  try {
    const jsm = await jetstreamManager(admin, { timeout: 3000 });
    const names: string[] = [];
    await bounded(
      (async () => {
        for await (const name of jsm.streams.names()) if (name.includes(prefix)) names.push(name);
      })(),
      "listing streams",
    );
    for (const name of names) await bounded(jsm.streams.delete(name), `deleting stream ${name}`);
  } finally {
    await bounded(admin.close(), "closing the teardown connection");
  }
}

async function bounded<T>(work: Promise<T>, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      console.error(`test/support/nats.ts: ${what} took over ${TEARDOWN_STEP_MS} ms; going on`);
      resolve();
    }, TEARDOWN_STEP_MS);
  });
  try {
    await Promise.race([work.then(() => undefined), timeout]);
  } catch (error) {
    // A connection the test closed itself, or a stream the code under test deleted: fine.
    if (!/closed|not found/i.test(error instanceof Error ? error.message : String(error))) throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for `predicate` to hold, checking every 10 ms; fails after `ms` naming `what`. */
export async function waitFor(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
