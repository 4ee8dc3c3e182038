import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { GenServer, type Pid, Runtime, silentLogger } from "../runtime/index.js";
import { type ChildSpec, normalizeChildSpec, PreparedWorkerSpec, worker } from "./child-spec.js";
import { ChildStartError } from "./errors.js";
import { Supervisor } from "./supervisor.js";

type Args = { label: string; inits: string[]; fail?: boolean; async?: boolean };

/** Records each init's args; fails or waits when its args say so. */
class Agent extends GenServer<{ op: "args" } | { op: "crash" }, unknown, never, never, Args> {
  private args: Args | undefined;

  override init(args: Args): void | Promise<void> {
    this.args = args;
    args.inits.push(args.label);
    if (args.fail) throw new Error(`init of ${args.label} failed`);
    if (args.async) return Promise.resolve();
  }

  override handleCall(message: { op: "args" } | { op: "crash" }): unknown {
    if (message.op === "crash") throw new Error("crash");
    return this.args;
  }
}

let rt: Runtime;
beforeEach(() => {
  rt = new Runtime({ logger: silentLogger() });
});
afterEach(async () => {
  await rt.shutdown(200);
});

/** The same two children as `worker` specs and as prepared ones. */
const kinds: [string, (id: string, args: Args) => ChildSpec][] = [
  ["worker()", (id, args) => worker(id, () => new Agent(), { args })],
  ["PreparedWorkerSpec", (id, args) => new PreparedWorkerSpec(id, () => new Agent(), args)],
];

async function pidOf(sup: Pid, id: string): Promise<Pid> {
  const child = (await Supervisor.whichChildren(rt, sup)).find((c) => c.id === id);
  assert.ok(child?.pid, `child ${id} runs`);
  return child.pid;
}

describe("PreparedWorkerSpec starts and restarts as the worker() spec of the same server", () => {
  for (const [kind, spec] of kinds) {
    for (const async of [false, true]) {
      it(`${kind}, ${async ? "async" : "sync"} init: starts in order with its args, listed as a permanent worker`, async () => {
        const inits: string[] = [];
        const sup = await Supervisor.start(rt, {
          children: [spec("a", { label: "a", inits, async }), spec("b", { label: "b", inits, async })],
        });
        assert.deepEqual(inits, ["a", "b"]);
        const children = await Supervisor.whichChildren(rt, sup);
        assert.deepEqual(
          children.map(({ id, status, type, restart }) => ({ id, status, type, restart })),
          [
            { id: "a", status: "running", type: "worker", restart: "permanent" },
            { id: "b", status: "running", type: "worker", restart: "permanent" },
          ],
        );
        assert.equal(((await rt.call(await pidOf(sup, "b"), { op: "args" })) as Args).label, "b");
      });
    }

    it(`${kind}: a crashed child is started again as a new process with the same args`, async () => {
      const inits: string[] = [];
      const args = { label: "a", inits };
      const sup = await Supervisor.start(rt, { children: [spec("a", args)] });
      const first = await pidOf(sup, "a");
      await assert.rejects(rt.call(first, { op: "crash" }));
      await rt.whenExited(first);
      const second = await pidOf(sup, "a");
      assert.ok(!second.equals(first));
      assert.equal(await rt.call(second, { op: "args" }), args);
      assert.deepEqual(inits, ["a", "a"]);
    });

    it(`${kind}: an init that throws fails the supervisor's start with ChildStartError naming the child`, async () => {
      const inits: string[] = [];
      const processes = rt.processCount;
      await assert.rejects(
        Supervisor.start(rt, {
          children: [spec("a", { label: "a", inits }), spec("b", { label: "b", inits, fail: true })],
        }),
        (error: unknown) => {
          assert.ok(error instanceof ChildStartError);
          assert.equal(error.childId, "b");
          assert.match(String((error.reason as Error).message), /init of b failed/);
          return true;
        },
      );
      assert.equal(rt.processCount, processes);
    });
  }

  it("is kept as it is by normalizeChildSpec (normalized already)", () => {
    const spec = new PreparedWorkerSpec("a", () => new Agent(), { label: "a", inits: [] });
    assert.equal(normalizeChildSpec(spec), spec);
    assert.deepEqual(
      { restart: spec.restart, shutdown: spec.shutdown, type: spec.type, significant: spec.significant },
      { restart: "permanent", shutdown: 5000, type: "worker", significant: false },
    );
  });
});
