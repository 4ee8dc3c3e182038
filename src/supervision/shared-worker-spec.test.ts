import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { GenServer, InvalidArgumentError, type Pid, Runtime, silentLogger } from "../runtime/index.js";
import {
  type ChildSpec,
  normalizeChildSpec,
  preparedChildList,
  SharedWorkerSpec,
  worker,
} from "./child-spec.js";
import { ChildStartError } from "./errors.js";
import { Supervisor, type SupervisorOptions } from "./supervisor.js";

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

/** A supervisor that carries its children's args, as a session's supervisor carries its agents'. */
class ArgsSupervisor extends Supervisor {
  constructor(
    options: SupervisorOptions,
    readonly argsById: Record<string, Args>,
  ) {
    super(options);
  }
}

/** One shared spec per child id: each start reads its args from the supervisor starting it. */
const shared = (id: string) =>
  new SharedWorkerSpec(
    id,
    () => new Agent(),
    (sup: ArgsSupervisor) => sup.argsById[id] as Args,
  );

let rt: Runtime;
beforeEach(() => {
  rt = new Runtime({ logger: silentLogger() });
});
afterEach(async () => {
  await rt.shutdown(200);
});

function startSupervisor(children: readonly ChildSpec[], argsById: Record<string, Args>): Promise<Pid> {
  return rt.spawn(new ArgsSupervisor({ children }, argsById), { trapExit: true });
}

/** The same two children as `worker` specs and as shared ones. */
const kinds: [string, (id: string, args: Args) => ChildSpec][] = [
  ["worker()", (id, args) => worker(id, () => new Agent(), { args })],
  ["SharedWorkerSpec", (id) => shared(id)],
];

async function pidOf(sup: Pid, id: string): Promise<Pid> {
  const child = (await Supervisor.whichChildren(rt, sup)).find((c) => c.id === id);
  assert.ok(child?.pid, `child ${id} runs`);
  return child.pid;
}

describe("SharedWorkerSpec starts and restarts as the worker() spec of the same server", () => {
  for (const [kind, spec] of kinds) {
    for (const async of [false, true]) {
      it(`${kind}, ${async ? "async" : "sync"} init: starts in order with its args, listed as a permanent worker`, async () => {
        const inits: string[] = [];
        const args = { a: { label: "a", inits, async }, b: { label: "b", inits, async } };
        const sup = await startSupervisor([spec("a", args.a), spec("b", args.b)], args);
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
      const sup = await startSupervisor([spec("a", args)], { a: args });
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
      const args = { a: { label: "a", inits }, b: { label: "b", inits, fail: true } };
      await assert.rejects(
        startSupervisor([spec("a", args.a), spec("b", args.b)], args),
        (error: unknown) => {
          const reason = (error as { reason?: unknown }).reason;
          assert.ok(reason instanceof ChildStartError);
          assert.equal(reason.childId, "b");
          assert.match(String((reason.reason as Error).message), /init of b failed/);
          return true;
        },
      );
      assert.equal(rt.processCount, processes);
    });
  }

  it("is kept as it is by normalizeChildSpec (normalized already)", () => {
    const spec = shared("a");
    assert.equal(normalizeChildSpec(spec), spec);
    assert.deepEqual(
      { restart: spec.restart, shutdown: spec.shutdown, type: spec.type, significant: spec.significant },
      { restart: "permanent", shutdown: 5000, type: "worker", significant: false },
    );
  });

  it("refuses to start outside a supervisor, where it has no supervisor to read its args from", async () => {
    const spec = shared("a");
    await assert.rejects(
      spec.start(),
      (error: unknown) =>
        error instanceof InvalidArgumentError && /started by its supervisor only/.test(error.message),
    );
  });
});

describe("preparedChildList", () => {
  it("gives many supervisors one list: each starts its own children with its own args", async () => {
    const list = preparedChildList([shared("a"), shared("b")]);
    const one: string[] = [];
    const two: string[] = [];
    const first = await startSupervisor(list, {
      a: { label: "1a", inits: one },
      b: { label: "1b", inits: one },
    });
    const second = await startSupervisor(list, {
      a: { label: "2a", inits: two },
      b: { label: "2b", inits: two },
    });
    assert.deepEqual(one, ["1a", "1b"]);
    assert.deepEqual(two, ["2a", "2b"]);
    assert.ok(!(await pidOf(first, "a")).equals(await pidOf(second, "a")));
    assert.equal(((await rt.call(await pidOf(second, "b"), { op: "args" })) as Args).label, "2b");
  });

  it("is frozen: a supervisor cannot change what the others start", () => {
    const list = preparedChildList([shared("a")]);
    assert.ok(Object.isFrozen(list));
  });

  it("refuses a spec that is not prepared", () => {
    assert.throws(
      () => preparedChildList([worker("a", () => new Agent()) as never]),
      (error: unknown) => error instanceof InvalidArgumentError && /prepared specs/.test(error.message),
    );
  });

  it("refuses two children with one id", () => {
    assert.throws(
      () => preparedChildList([shared("a"), shared("a")]),
      (error: unknown) =>
        error instanceof InvalidArgumentError && /duplicate child id "a"/.test(error.message),
    );
  });
});
