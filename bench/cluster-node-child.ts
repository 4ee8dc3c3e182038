// One cluster node in its own process, driven by bench/cluster-sessions.ts: its config is the
// JSON in argv[2]; it reads one JSON request a line on stdin ({ id, op, … }) and answers each
// with one JSON line ({ id, ok, result | error }) on stdout, beside `{"type":"ready"}` and its
// ownership events. It works through its own `node.sessions`, so what it measures is what a
// node's code sees. It closes (leaving the cluster cleanly) when its stdin ends, so a bench that
// dies cannot leave it behind; the bench kills it with SIGKILL to simulate a crash.
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { ClusterNode } from "../src/cluster/index.js";
import { defaultProviders, type SessionConfigInput, silentLogger } from "../src/index.js";
import type { NodeConfig } from "./cluster-node-procs.js";

const TURN_TEXT = "echo the quick brown fox jumps over the lazy dog";

const config = JSON.parse(process.argv[2] ?? "{}") as NodeConfig;
const print = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);

const node = await ClusterNode.start({
  node: config.node,
  servers: config.servers,
  prefix: config.prefix,
  store: { connectionString: config.connectionString, schema: config.schema, poolSize: 4 },
  leaseTtlMs: config.leaseTtlMs,
  buckets: config.buckets,
  logger: silentLogger(),
  system: { providers: defaultProviders() },
});
node.watch((event) => print({ type: "event", event }));
const sessions = node.sessions;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `count` jobs with at most `inFlight` at once. */
async function pool(count: number, inFlight: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await job(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
}

/** A conversation kept going on some sessions until stopped: which turns were acknowledged. */
let chat:
  | {
      stop: boolean;
      acked: { id: string; text: string }[];
      /** The turns that failed: when each was sent, and why. */
      failed: { sentAt: number; why: string }[];
      done: Promise<unknown>;
    }
  | undefined;

type Request = { id: number; op: string } & Record<string, unknown>;

const ops: Record<string, (r: Request) => Promise<unknown>> = {
  members: async () => node.liveMembers().map((m) => m.node),

  create: async (r) => {
    const count = r.count as number;
    const created: { id: string; node: string }[] = [];
    const started = performance.now();
    await pool(count, r.inFlight as number, async () => {
      const info = await sessions.createSession((r.config ?? {}) as SessionConfigInput);
      created.push({ id: info.id, node: info.node });
    });
    return { created, ms: performance.now() - started };
  },

  owners: async (r) => {
    const owners: Record<string, string | null> = {};
    for (const id of r.ids as string[]) owners[id] = (await sessions.ownerOf(id)) ?? null;
    return owners;
  },

  // Turns in turns: one to a session here, one to a session elsewhere, then the next round, so
  // a machine whose load changes weighs on both alike.
  turns: async (r) => {
    const local = r.local as string[];
    const remote = r.remote as string[];
    const send = async (id: string) => {
      const reply = await sessions.sendMessage(id, TURN_TEXT);
      if (!reply.text.includes("lazy dog")) throw new Error(`unexpected reply ${JSON.stringify(reply.text)}`);
    };
    for (let i = 0; i < (r.warmup as number); i++) {
      await send(local[i % local.length] as string);
      await send(remote[i % remote.length] as string);
    }
    const localMs: number[] = [];
    const remoteMs: number[] = [];
    for (let i = 0; i < (r.rounds as number); i++) {
      let t = performance.now();
      await send(local[i % local.length] as string);
      localMs.push(performance.now() - t);
      t = performance.now();
      await send(remote[i % remote.length] as string);
      remoteMs.push(performance.now() - t);
    }
    return { localMs, remoteMs };
  },

  // One conversation per session, a turn after the other (gapMs apart, as a user would), until
  // chatStop; resolves once every session has had a turn acknowledged.
  chatStart: async (r) => {
    const ids = r.ids as string[];
    const state = {
      stop: false,
      acked: [] as { id: string; text: string }[],
      failed: [] as { sentAt: number; why: string }[],
      done: Promise.resolve() as Promise<unknown>,
    };
    const first = ids.map(() => {
      let resolve = () => {};
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      return { promise, resolve };
    });
    state.done = Promise.all(
      ids.map(async (id, k) => {
        for (let n = 0; !state.stop; n++) {
          const text = `echo ${r.tag as string} ${id.slice(-6)} ${n}`;
          const sentAt = Date.now();
          try {
            await sessions.sendMessage(id, text, { timeoutMs: 5000 });
            state.acked.push({ id, text });
            first[k]?.resolve();
            await sleep(r.gapMs as number);
          } catch (error) {
            // Not acknowledged (its node died under it, or the session moves): nothing to check.
            const why =
              error instanceof Error ? `${error.name}: ${error.message.slice(0, 90)}` : String(error);
            state.failed.push({ sentAt, why });
            await sleep(20);
          }
        }
        first[k]?.resolve();
      }),
    );
    chat = state;
    await Promise.all(first.map((f) => f.promise));
    return { acked: state.acked.length };
  },

  chatStop: async () => {
    const state = chat;
    if (!state) return { acked: [], failed: [] };
    state.stop = true;
    await state.done;
    chat = undefined;
    return { acked: state.acked, failed: state.failed };
  },

  // The first successful answer of each session (its history), as this node's wall clock.
  probe: async (r) => {
    const deadline = Date.now() + (r.timeoutMs as number);
    const at: Record<string, number | null> = {};
    await Promise.all(
      (r.ids as string[]).map(async (id) => {
        for (;;) {
          try {
            await sessions.getHistory(id);
            at[id] = Date.now();
            return;
          } catch {
            if (Date.now() > deadline) {
              at[id] = null;
              return;
            }
            await sleep(10);
          }
        }
      }),
    );
    return at;
  },

  history: async (r) => {
    const turns: Record<string, { content: string; status: string }[]> = {};
    for (const id of r.ids as string[])
      turns[id] = (await sessions.getHistory(id))
        .filter((turn) => turn.role === "user")
        .map((turn) => ({ content: String(turn.content), status: String(turn.status) }));
    return turns;
  },
};

print({ type: "ready", node: config.node, pid: process.pid });

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const request = JSON.parse(line) as Request;
  const op = ops[request.op];
  if (!op) {
    print({ id: request.id, ok: false, error: `unknown op ${request.op}` });
    return;
  }
  op(request).then(
    (result) => print({ id: request.id, ok: true, result }),
    (error: unknown) => print({ id: request.id, ok: false, error: String(error) }),
  );
});
lines.on("close", () => {
  void node.close().finally(() => process.exit(0));
});
