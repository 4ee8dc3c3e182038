// The cluster router against the real NATS server: two runtimes in this process, each with its
// own connection and NatsRouter, reach each other's processes as they would local ones.
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { NatsRouter, type NatsRouterOptions } from "../src/cluster/nats-router.js";
import { isNodeDown, NodeDownError } from "../src/cluster/route-errors.js";
import { isHostDown, UnsendableMessageError } from "../src/hosts/index.js";
import {
  CallExitError,
  CallTimeoutError,
  type DownMessage,
  type ExitReason,
  GenServer,
  InvalidArgumentError,
  isDownMessage,
  isExitMessage,
  NoProcError,
  Pid,
  Ref,
  Runtime,
  silentLogger,
} from "../src/runtime/index.js";
import { probeSystem } from "./support/hosts.js";
import { TestNames } from "./support/names.js";
import { natsFixture } from "./support/nats.js";
import { Echo, eventually } from "./support/servers.js";

const TEST = { timeout: 30_000 };

interface Node {
  runtime: Runtime;
  router: NatsRouter;
}

/** Two nodes, `alpha` and `beta`, on one NATS server under a subject prefix of this test's own. */
async function twoNodes(
  t: TestContext,
  options: { alpha?: NatsRouterOptions; beta?: NatsRouterOptions } = {},
): Promise<{ a: Node; b: Node; prefix: string }> {
  const made: Node[] = [];
  // Registered before the fixture's own teardown, so that it runs first while connections are open.
  t.after(async () => {
    for (const node of made) await node.runtime.shutdown(1000);
    for (const node of made) await node.router.close();
  });
  const nats = await natsFixture(t);
  const prefix = nats.subject("rt");
  const start = async (name: "alpha" | "beta"): Promise<Node> => {
    const runtime = new Runtime({ node: name, logger: silentLogger() });
    const router = await NatsRouter.start(runtime, await nats.connect(name), {
      prefix,
      ...(options[name] ?? {}),
    });
    const node = { runtime, router };
    made.push(node);
    return node;
  };
  return { a: await start("alpha"), b: await start("beta"), prefix };
}

/** Keeps its infos (DOWN and EXIT messages among them) for the test to read. */
class Watcher extends GenServer<"infos", unknown[], never, unknown, { trap?: boolean } | undefined> {
  readonly infos: unknown[] = [];
  override init(args?: { trap?: boolean }): void {
    if (args?.trap) this.trapExits();
  }
  override handleCall(): unknown[] {
    return this.infos;
  }
  override handleInfo(message: unknown): void {
    this.infos.push(message);
  }
}

function reasonOf(error: unknown): unknown {
  assert.ok(error instanceof CallExitError, `expected a CallExitError, got ${String(error)}`);
  return error.reason;
}

describe("NatsRouter: operations on another node's pids", () => {
  it("calls a GenServer on another node by pid and gets its reply", TEST, async (t) => {
    const { a, b } = await twoNodes(t);
    const echo = await b.runtime.spawn(new Echo());
    assert.deepEqual(await a.runtime.call(echo, { op: "echo", value: { hello: ["world", 1] } }), {
      hello: ["world", 1],
    });
  });

  it("calls from a process of one node to a process of the other", TEST, async (t) => {
    const { a, b } = await twoNodes(t);
    const echo = await b.runtime.spawn(new Echo());
    class Caller extends GenServer<"go", unknown> {
      override handleCall(): Promise<unknown> {
        return this.call(echo, { op: "echo", value: "through a process" });
      }
    }
    const caller = await a.runtime.spawn(new Caller());
    assert.equal(await a.runtime.call(caller, "go"), "through a process");
  });

  it("delivers casts and sends to the other node's process, in the order they were made", TEST, async (t) => {
    const { a, b } = await twoNodes(t);
    const server = new Echo();
    const echo = await b.runtime.spawn(server);
    for (let i = 0; i < 20; i++) a.runtime.cast(echo, { op: "note", value: i });
    a.runtime.send(echo, { info: "hello" });
    // A call after them arrives after them: one subscription per node keeps the order.
    await a.runtime.call(echo, { op: "echo", value: null });
    assert.deepEqual(
      server.notes,
      Array.from({ length: 20 }, (_, i) => i),
    );
    assert.deepEqual(server.infos, [{ info: "hello" }]);
  });

  it("fails a call to a dead pid of the other node with NoProcError, as a local one", TEST, async (t) => {
    const { a, b } = await twoNodes(t);
    const echo = await b.runtime.spawn(new Echo());
    await b.runtime.call(echo, { op: "stop", reason: "normal" });
    await eventually(() => !b.runtime.isAlive(echo), 2000, "the echo to stop");
    await assert.rejects(a.runtime.call(echo, { op: "echo", value: 1 }), NoProcError);
  });

  it("fails a call the other node does not answer in time with CallTimeoutError", TEST, async (t) => {
    const { a, b } = await twoNodes(t);
    const echo = await b.runtime.spawn(new Echo());
    const error = await a.runtime.call(echo, { op: "never" }, 200).then(
      () => assert.fail("the call was answered"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof CallTimeoutError, String(error));
    assert.equal(error.timeoutMs, 200);
  });

  it("fails a call whose callee crashes with CallExitError carrying the crash", TEST, async (t) => {
    const { a, b } = await twoNodes(t);
    const echo = await b.runtime.spawn(new Echo());
    const reason = reasonOf(
      await a.runtime.call(echo, { op: "crash", message: "remote boom" }).catch((e: unknown) => e),
    );
    assert.ok(reason instanceof Error);
    assert.equal(reason.message, "remote boom");
  });
});

describe("NatsRouter: terms on the wire", () => {
  it("carries pids, refs, errors, Maps, Sets, Dates, bigints and typed arrays both ways", TEST, async (t) => {
    const { a, b } = await twoNodes(t);
    const echo = await b.runtime.spawn(new Echo());
    const value = {
      pid: echo,
      ref: new Ref("alpha", 42),
      error: new NoProcError("<x.1>"),
      map: new Map<unknown, unknown>([
        ["k", new Set([1, 2])],
        [3, undefined],
      ]),
      date: new Date("2026-01-02T03:04:05.678Z"),
      big: 12345678901234567890n,
      bytes: new Uint8Array([0, 1, 255]),
      floats: new Float64Array([1.5, Number.NaN]),
      odd: [Number.POSITIVE_INFINITY, -0, undefined, null],
      nested: { $w: "not a tag", $sessionvisor: 1 },
      re: /a+b/gi,
    };
    const back = (await a.runtime.call(echo, { op: "echo", value })) as typeof value;
    assert.ok(back.pid instanceof Pid && back.pid.equals(echo));
    assert.ok(back.ref instanceof Ref && back.ref.equals(value.ref));
    assert.ok(back.error instanceof NoProcError);
    assert.equal(back.error.target, "<x.1>");
    assert.deepEqual(back.map, value.map);
    assert.deepEqual(back.date, value.date);
    assert.equal(back.big, value.big);
    assert.deepEqual(back.bytes, value.bytes);
    assert.deepEqual(back.floats, value.floats);
    assert.ok(Object.is(back.odd[1], -0));
    assert.deepEqual(back.odd, value.odd);
    assert.deepEqual(back.nested, value.nested);
    assert.deepEqual(back.re, value.re);
  });

  it("fails the caller, not the router, for a message that cannot be encoded", TEST, async (t) => {
    const { a, b } = await twoNodes(t);
    const echo = await b.runtime.spawn(new Echo());
    const error = await a.runtime.call(echo, { op: "echo", value: { f: () => 1 } }).catch((e: unknown) => e);
    assert.ok(error instanceof UnsendableMessageError, String(error));
    assert.match(error.message, /message\.value\.f is a function/);
    assert.throws(
      () => a.runtime.cast(echo, { op: "note", value: Symbol("s") } as never),
      UnsendableMessageError,
    );
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await assert.rejects(a.runtime.call(echo, { op: "echo", value: circular }), UnsendableMessageError);
    // The router goes on.
    assert.equal(await a.runtime.call(echo, { op: "echo", value: "still here" }), "still here");
  });

  it("fails the caller with the reason when the reply cannot be encoded", TEST, async (t) => {
    const { a, b } = await twoNodes(t);
    class Bad extends GenServer<"f", unknown> {
      override handleCall(): unknown {
        return () => 1;
      }
    }
    const bad = await b.runtime.spawn(new Bad());
    const error = await a.runtime.call(bad, "f").catch((e: unknown) => e);
    assert.ok(error instanceof UnsendableMessageError, String(error));
    assert.match(error.message, /reply is a function/);
  });

  it("refuses a message over the server's max_payload with UnsendableMessageError", TEST, async (t) => {
    const { a, b } = await twoNodes(t);
    const echo = await b.runtime.spawn(new Echo());
    const huge = "x".repeat(2 * 1024 * 1024);
    const error = await a.runtime.call(echo, { op: "echo", value: huge }).catch((e: unknown) => e);
    assert.ok(error instanceof UnsendableMessageError, String(error));
    assert.match(error.message, /max_payload/);
    assert.equal(await a.runtime.call(echo, { op: "echo", value: "small" }), "small");
  });
});

describe("NatsRouter: monitors and links across nodes", () => {
  it("fires a monitor with the real reason when the remote process exits", TEST, async (t) => {
    const { a, b } = await twoNodes(t);
    const echo = await b.runtime.spawn(new Echo());
    const watcher = new Watcher();
    const watcherPid = await a.runtime.spawn(watcher);
    const ref = a.runtime.monitor(watcherPid, echo);
    const exited = a.runtime.whenExited(echo);
    await a.runtime.call(echo, { op: "echo", value: "monitored" }); // the monitor is in place
    await a.runtime.call(echo, { op: "crash", message: "watched boom" }).catch(() => {});
    const reason = await exited;
    assert.ok(reason instanceof Error && reason.message === "watched boom", String(reason));
    await eventually(() => watcher.infos.some(isDownMessage), 5000, "the DOWN message");
    const down = watcher.infos.find(isDownMessage) as DownMessage;
    assert.ok(down.ref.equals(ref));
    assert.ok(down.pid.equals(echo));
    assert.ok(down.reason instanceof Error && down.reason.message === "watched boom");
  });

  it("does not fire a monitor that was removed", TEST, async (t) => {
    const { a, b } = await twoNodes(t);
    const echo = await b.runtime.spawn(new Echo());
    const watcher = new Watcher();
    const watcherPid = await a.runtime.spawn(watcher);
    const ref = a.runtime.monitor(watcherPid, echo);
    a.runtime.demonitor(ref);
    const stillWatched = a.runtime.whenExited(echo);
    await a.runtime.call(echo, { op: "stop", reason: "shutdown" });
    assert.equal(await stillWatched, "shutdown");
    await a.runtime.call(watcherPid, "infos");
    assert.deepEqual(watcher.infos, []);
  });

  it("propagates a crash through a link, from either side", TEST, async (t) => {
    const { a, b } = await twoNodes(t);
    const there = await b.runtime.spawn(new Echo());
    const here = await a.runtime.spawn(new Echo());
    a.runtime.link(here, there);
    await a.runtime.call(there, { op: "echo", value: "linked" });
    const hereExit = a.runtime.whenExited(here);
    await a.runtime.call(there, { op: "crash", message: "link boom" }).catch(() => {});
    const reason = await hereExit;
    assert.ok(reason instanceof Error && reason.message === "link boom", String(reason));

    const there2 = await b.runtime.spawn(new Echo());
    const here2 = await a.runtime.spawn(new Echo());
    a.runtime.link(here2, there2);
    await a.runtime.call(there2, { op: "echo", value: "linked" });
    const thereExit = b.runtime.whenExited(there2);
    a.runtime.exit(here2, "kill");
    assert.equal(await thereExit, "killed");
  });

  it("delivers a link's exit as an EXIT message to a process that traps exits", TEST, async (t) => {
    const { a, b } = await twoNodes(t);
    const there = await b.runtime.spawn(new Echo());
    const watcher = new Watcher();
    const here = await a.runtime.spawn(watcher, { args: { trap: true } });
    a.runtime.link(here, there);
    await a.runtime.call(there, { op: "echo", value: "linked" });
    await a.runtime.call(there, { op: "stop", reason: "shutdown" });
    await eventually(() => watcher.infos.some(isExitMessage), 5000, "the EXIT message");
    const exit = watcher.infos.find(isExitMessage);
    assert.ok(exit?.from.equals(there));
    assert.equal(exit?.reason, "shutdown");
    assert.equal(a.runtime.isAlive(here), true);
  });
});

describe("NatsRouter: a node that goes down", () => {
  it("fires monitors, breaks links and fails calls in flight with NodeDownError", TEST, async (t) => {
    const { a, b } = await twoNodes(t);
    const echo = await b.runtime.spawn(new Echo());
    const watcher = new Watcher();
    const watcherPid = await a.runtime.spawn(watcher);
    a.runtime.monitor(watcherPid, echo);
    const watched = a.runtime.whenExited(echo);
    const linked = await a.runtime.spawn(new Echo());
    a.runtime.link(linked, echo);
    const linkedExit = a.runtime.whenExited(linked);
    await a.runtime.call(echo, { op: "echo", value: "ready" });
    const inFlight = a.runtime.call(echo, { op: "never" }, 60_000).catch((e: unknown) => e);

    a.router.nodeDown("beta");

    const callReason = reasonOf(await inFlight);
    assert.ok(isNodeDown(callReason), String(callReason));
    assert.equal(callReason.node, "beta");
    assert.equal(callReason.how, "member_down");
    assert.equal(callReason.code, "noconnection");
    const watchReason = await watched;
    assert.ok(watchReason instanceof NodeDownError, String(watchReason));
    const linkReason = await linkedExit;
    assert.ok(linkReason instanceof NodeDownError, String(linkReason));
    await eventually(() => watcher.infos.some(isDownMessage), 2000, "the DOWN message");
    const down = watcher.infos.find(isDownMessage) as DownMessage;
    assert.ok(down.reason instanceof NodeDownError);
    // Its pids are dead until membership sees it again.
    await assert.rejects(a.runtime.call(echo, { op: "echo", value: 1 }), NoProcError);
    assert.equal(a.router.isDown("beta"), true);
    a.router.nodeUp("beta");
    assert.equal(await a.runtime.call(echo, { op: "echo", value: "back" }), "back");
  });

  it("takes a custom reason for nodeDown and gives it to what watches the node", TEST, async (t) => {
    const { a, b } = await twoNodes(t);
    const echo = await b.runtime.spawn(new Echo());
    const watched = a.runtime.whenExited(echo);
    await a.runtime.call(echo, { op: "echo", value: "ready" });
    a.router.nodeDown("beta", { lease: "expired" });
    assert.deepEqual(await watched, { lease: "expired" });
  });

  it("refuses the frames of a node it holds for down", TEST, async (t) => {
    const { a, b } = await twoNodes(t);
    const echo = await a.runtime.spawn(new Echo());
    await b.runtime.call(echo, { op: "echo", value: "known" });
    a.router.nodeDown("beta");
    const reason = reasonOf(await b.runtime.call(echo, { op: "echo", value: 1 }).catch((e: unknown) => e));
    assert.ok(isNodeDown(reason), String(reason));
    const watched = b.runtime.whenExited(echo);
    const refused: ExitReason = await watched;
    assert.ok(isNodeDown(refused), String(refused));
  });

  it("fails operations on a node nobody serves at once, with reason unreachable", TEST, async (t) => {
    const { a } = await twoNodes(t);
    const ghost = new Pid("ghost", 1);
    const reason = reasonOf(await a.runtime.call(ghost, "anything", 10_000).catch((e: unknown) => e));
    assert.ok(isNodeDown(reason), String(reason));
    assert.equal(reason.how, "unreachable");
    const watched = await a.runtime.whenExited(ghost);
    assert.ok(isNodeDown(watched) && watched.how === "unreachable", String(watched));
    assert.deepEqual(a.router.connectedNodes, [], "a node never served is not kept as a peer");
    assert.doesNotThrow(() => a.runtime.cast(ghost, "lost"));
  });

  it("fires everything with router_closed when the router is closed", TEST, async (t) => {
    const { a, b } = await twoNodes(t);
    const echo = await b.runtime.spawn(new Echo());
    const watched = a.runtime.whenExited(echo);
    await a.runtime.call(echo, { op: "echo", value: "ready" });
    await a.router.close();
    const reason = await watched;
    assert.ok(isNodeDown(reason) && reason.how === "router_closed", String(reason));
    await assert.rejects(a.runtime.call(echo, { op: "echo", value: 1 }), NoProcError);
  });
});

describe("NatsRouter: names on other nodes", () => {
  it("finds a name on a given node and cluster-wide, then reaches it by pid", TEST, async (t) => {
    const { a, b } = await twoNodes(t, { alpha: { lookupTimeoutMs: 3000 } });
    new TestNames(b.runtime);
    new TestNames(a.runtime);
    const echo = await b.runtime.spawn(new Echo(), { name: "svc" });
    const onBeta = await a.router.whereis("svc", "beta");
    assert.ok(onBeta?.equals(echo));
    const anywhere = await a.router.whereis("svc");
    assert.ok(anywhere?.equals(echo));
    assert.equal(await a.router.whereis("nobody"), undefined);
    assert.equal(await a.router.whereis("svc", "alpha"), undefined);
    assert.ok(anywhere);
    assert.equal(await a.runtime.call(anywhere, { op: "echo", value: "by name" }), "by name");
  });

  it("ends a cluster-wide miss once every node it knows has answered", TEST, async (t) => {
    // A lookup timeout past the test's own: waiting for it would fail the test.
    const { a, b } = await twoNodes(t, { alpha: { lookupTimeoutMs: 120_000 } });
    const echo = await a.runtime.spawn(new Echo());
    await b.runtime.call(echo, { op: "echo", value: "alpha now knows beta" });
    assert.deepEqual(a.router.connectedNodes, ["beta"]);
    assert.equal(await a.router.whereis("nobody"), undefined);
  });

  it("sends names not registered here to the namesNode, when one is set", TEST, async (t) => {
    const { a, b } = await twoNodes(t, { alpha: { namesNode: "beta" } });
    new TestNames(b.runtime);
    new TestNames(a.runtime);
    await b.runtime.spawn(new Echo(), { name: "svc" });
    assert.equal(await a.runtime.call("svc", { op: "echo", value: "via beta" }), "via beta");
    await assert.rejects(a.runtime.call("nobody", { op: "echo", value: 1 }), NoProcError);
  });

  it("looks a name sent from another node up here only, so names cannot bounce", TEST, async (t) => {
    // Each sends the other the names it lacks: a name neither has must still fail at once.
    const { a, b } = await twoNodes(t, { alpha: { namesNode: "beta" }, beta: { namesNode: "alpha" } });
    new TestNames(b.runtime);
    new TestNames(a.runtime);
    await assert.rejects(a.runtime.call("nobody", { op: "echo", value: 1 }, 60_000), NoProcError);
    assert.equal(await a.runtime.whenExited("nobody"), "noproc");
    assert.doesNotThrow(() => a.runtime.cast("nobody", { op: "note", value: 1 } as never));
  });
});

/** alpha, and beta with worker-thread hosts; alpha knows beta once beta has called it. */
async function withHosts(t: TestContext, kind: "thread" | "process" = "thread") {
  const nats = await natsFixture(t);
  const prefix = nats.subject("rt");
  const system = probeSystem(t, kind);
  const routerB = await NatsRouter.start(system.runtime, await nats.connect("b"), { prefix });
  const a = new Runtime({ node: "alpha", logger: silentLogger() });
  const routerA = await NatsRouter.start(a, await nats.connect("a"), { prefix });
  t.after(async () => {
    await a.shutdown(1000);
    await routerA.close();
    await routerB.close();
  });
  const probe = await system.start();
  assert.notEqual(probe.node, system.runtime.node, "the probe runs in a host of its own node");
  // alpha learns of beta's node when beta first reaches it.
  const echo = await a.spawn(new Echo());
  await system.runtime.call(echo, { op: "echo", value: "hello" });
  return { a, routerA, beta: system.runtime, probe };
}

describe("NatsRouter: a node's hosts", () => {
  it("reaches a process in a worker-thread host of the other node", { timeout: 60_000 }, async (t) => {
    const { a, routerA, beta, probe } = await withHosts(t);
    assert.equal(await a.call(probe, { op: "ping" }), "pong");
    const where = (await a.call(probe, { op: "where" })) as { isolation: string; pid: Pid };
    assert.equal(where.isolation, "thread");
    assert.ok(where.pid.equals(probe));
    const watched = a.whenExited(probe);
    routerA.nodeDown(beta.node);
    assert.ok(isNodeDown(await watched));
  });

  it("lets a host's process of the other node call a process here", { timeout: 60_000 }, async (t) => {
    const { a, probe } = await withHosts(t);
    const echo = await a.spawn(new Echo());
    const answer = await a.call(probe, {
      op: "call",
      target: echo,
      message: { op: "echo", value: "from the host" },
    });
    assert.equal(answer, "from the host");
  });

  it("reaches a process in a child-process host of the other node", { timeout: 60_000 }, async (t) => {
    const { a, probe } = await withHosts(t, "process");
    const where = (await a.call(probe, { op: "where" })) as { isolation: string };
    assert.equal(where.isolation, "process");
  });

  it("breaks a link to a host's process with the host's death, relayed by its node", {
    timeout: 60_000,
  }, async (t) => {
    const { a, probe } = await withHosts(t);
    const here = await a.spawn(new Echo());
    a.link(here, probe);
    await a.call(probe, { op: "ping" }); // the link is in place
    const hereExit = a.whenExited(here);
    await a.call(probe, { op: "fault", fault: "throw" });
    const reason = await hereExit;
    assert.ok(isHostDown(reason), String(reason));
  });

  it("carries a link's exit to a host's process of the other node", { timeout: 60_000 }, async (t) => {
    const { a, probe } = await withHosts(t);
    const here = await a.spawn(new Echo());
    a.link(here, probe);
    await a.call(probe, { op: "ping" });
    const probeExit = a.whenExited(probe);
    a.exit(here, "kill");
    assert.equal(await probeExit, "killed");
  });

  it("breaks a link to a host's process when its node goes down", { timeout: 60_000 }, async (t) => {
    const { a, routerA, beta, probe } = await withHosts(t);
    const here = await a.spawn(new Echo());
    a.link(here, probe);
    await a.call(probe, { op: "ping" });
    const hereExit = a.whenExited(here);
    routerA.nodeDown(beta.node);
    assert.ok(isNodeDown(await hereExit));
  });
});

describe("NatsRouter: what arrives malformed", () => {
  it("answers a malformed request with InvalidArgumentError and goes on", TEST, async (t) => {
    const { a, b, prefix } = await twoNodes(t);
    const echo = await b.runtime.spawn(new Echo());
    const nc = b.router.connection;
    const ask = async (subject: string, body: string) =>
      JSON.parse(new TextDecoder().decode((await nc.request(subject, body, { timeout: 5000 })).data)) as {
        ok: boolean;
        error: unknown;
      };
    const missing = await ask(`${prefix}.node.alpha.call`, JSON.stringify({ n: "beta", to: "<alpha.1>" }));
    assert.equal(missing.ok, false);
    assert.match(JSON.stringify(missing.error), /InvalidArgumentError/);
    const garbage = await ask(`${prefix}.node.alpha.call`, "{not json");
    assert.equal(garbage.ok, false);
    nc.publish(`${prefix}.node.alpha.cast`, "[]");
    nc.publish(`${prefix}.node.alpha.nonsense`, "{}");
    // alpha goes on routing both ways.
    assert.equal(await a.runtime.call(echo, { op: "echo", value: "fine" }), "fine");
    const here = await a.runtime.spawn(new Echo());
    assert.equal(await b.runtime.call(here, { op: "echo", value: "fine too" }), "fine too");
  });
});

describe("NatsRouter: options", () => {
  it("refuses a bad prefix, timeout or names node, and a closed connection", TEST, async (t) => {
    const nats = await natsFixture(t);
    const nc = await nats.connect("options");
    const runtime = new Runtime({ node: "opts", logger: silentLogger() });
    t.after(() => runtime.shutdown(1000));
    for (const options of [
      { prefix: "a.*" },
      { prefix: "" },
      { ackTimeoutMs: 0 },
      { lookupTimeoutMs: Number.POSITIVE_INFINITY },
      { namesNode: "no.dots" },
    ]) {
      await assert.rejects(
        NatsRouter.start(runtime, nc, options),
        InvalidArgumentError,
        JSON.stringify(options),
      );
    }
    await nc.close();
    await assert.rejects(NatsRouter.start(runtime, nc), /closed/);
    // Nothing was left installed: the runtime routes no other node.
    await assert.rejects(runtime.call(new Pid("elsewhere", 1), "x"), NoProcError);
  });
});
