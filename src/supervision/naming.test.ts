import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { TestNames } from "../../test/support/names.js";
import { Echo, eventually } from "../../test/support/servers.js";
import { AlreadyStartedError, type Pid, Runtime, silentLogger } from "../runtime/index.js";
import { worker } from "./child-spec.js";
import { DynamicSupervisor } from "./dynamic-supervisor.js";
import { ChildStartError } from "./errors.js";
import { Supervisor } from "./supervisor.js";

let rt: Runtime;
let names: TestNames;
let childStarts: number;
beforeEach(() => {
  rt = new Runtime({ logger: silentLogger() });
  names = new TestNames(rt);
  childStarts = 0;
});
afterEach(async () => {
  await rt.shutdown(500);
  names.close();
});

/** A worker spec counting its starts, so a test can tell that no child was started. */
const counted = (id: string, name?: string) =>
  worker(
    id,
    () => {
      childStarts++;
      return new Echo();
    },
    name === undefined ? {} : { name },
  );

function isAlreadyStarted(holder: Pid) {
  return (error: unknown) => {
    assert.ok(error instanceof AlreadyStartedError, `expected AlreadyStartedError, got ${error}`);
    assert.ok(error.holder.equals(holder));
    return true;
  };
}

describe("supervisors named at start", { timeout: 10_000 }, () => {
  it("Supervisor.start with a name is reachable by that name once it resolves", async () => {
    const pid = await Supervisor.start(rt, { name: "sup", children: [counted("a")] });
    assert.ok(rt.whereis("sup")?.equals(pid));
  });

  it("Supervisor.start with a taken name fails with AlreadyStartedError and starts no children", async () => {
    const holder = await rt.spawn(new Echo(), { name: "sup" });
    const before = rt.processCount;
    await assert.rejects(
      Supervisor.start(rt, { name: "sup", children: [counted("a"), counted("b")] }),
      isAlreadyStarted(holder),
    );
    assert.equal(childStarts, 0);
    assert.equal(rt.processCount, before);
  });

  it("DynamicSupervisor.start with a name is reachable by that name once it resolves", async () => {
    const pid = await DynamicSupervisor.start(rt, { name: "dyn" });
    assert.ok(rt.whereis("dyn")?.equals(pid));
  });

  it("DynamicSupervisor.start with a taken name fails with AlreadyStartedError and starts nothing", async () => {
    const holder = await rt.spawn(new Echo(), { name: "dyn" });
    const before = rt.processCount;
    await assert.rejects(DynamicSupervisor.start(rt, { name: "dyn" }), isAlreadyStarted(holder));
    assert.equal(rt.processCount, before);
  });

  it("a named worker child is re-registered under its name when it is restarted", async () => {
    const sup = await Supervisor.start(rt, { children: [counted("a", "worker_a")] });
    const first = rt.whereis("worker_a");
    assert.ok(first);
    rt.exit(first, "boom");
    await eventually(() => {
      const now = rt.whereis("worker_a");
      return now !== undefined && !now.equals(first);
    });
    const children = await Supervisor.whichChildren(rt, sup);
    assert.ok(children[0]?.pid?.equals(rt.whereis("worker_a") as Pid));
  });

  it("a child whose name is taken fails to start with a ChildStartError whose reason is AlreadyStartedError", async () => {
    const holder = await rt.spawn(new Echo(), { name: "worker_a" });
    await assert.rejects(Supervisor.start(rt, { children: [counted("a", "worker_a")] }), (error: unknown) => {
      assert.ok(error instanceof ChildStartError);
      return isAlreadyStarted(holder)(error.reason);
    });
    assert.equal(childStarts, 1);
  });

  it("a nested supervisor's child spec carries its name", async () => {
    await Supervisor.start(rt, {
      children: [
        Supervisor.childSpec("inner", { name: "inner_sup", children: [] }),
        DynamicSupervisor.childSpec("dyn", { name: "inner_dyn" }),
      ],
    });
    assert.ok(rt.whereis("inner_sup"));
    assert.ok(rt.whereis("inner_dyn"));
  });

  it("a name that is not a non-empty string is refused where the options are checked", () => {
    assert.throws(() => new Supervisor({ name: "", children: [] }), /name/);
    assert.throws(() => Supervisor.childSpec("x", { name: 7 as unknown as string, children: [] }), /name/);
    assert.throws(() => DynamicSupervisor.childSpec("x", { name: "" }), /name/);
  });
});
