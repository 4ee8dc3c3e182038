import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import {
  CallExitError,
  err,
  GenServer,
  InvalidArgumentError,
  ok,
  Pid,
  Runtime,
  silentLogger,
} from "../runtime/index.js";
import type { RemoteRoute } from "../runtime/remote.js";
import { type ReplyResult, type Request, requester } from "./requests.js";

type CounterRequests = {
  add: { request: { by: number }; reply: number };
  crash: { request: object; reply: undefined };
  /** Answered with a bare value, not a Result: a server breaking its own protocol. */
  bare: { request: object; reply: undefined };
};

/** Answers `add` with the new total; refuses a step that is not a number with an error reply. */
class Counter extends GenServer<Request<CounterRequests>, ReplyResult<CounterRequests>> {
  private total = 0;

  override handleCall(message: Request<CounterRequests>): ReplyResult<CounterRequests> {
    if (message.op === "crash") throw new Error("asked to crash");
    if (message.op === "bare") return 42 as unknown as ReplyResult<CounterRequests>;
    if (typeof message.by !== "number") return err(new InvalidArgumentError("by", "must be a number"));
    this.total += message.by;
    return ok(this.total);
  }
}

const ask = requester<CounterRequests>();

/** Asks the counter from inside a process, through its own scope. */
class Asker extends GenServer<{ by: number }, unknown, never, never, Pid> {
  private counter!: Pid;

  override init(counter: Pid): void {
    this.counter = counter;
  }

  override async handleCall(message: { by: number }): Promise<unknown> {
    try {
      return { value: await ask(this.scope, this.counter, { op: "add", by: message.by }) };
    } catch (error) {
      return { error };
    }
  }
}

describe("requester", { timeout: 10_000 }, () => {
  let rt: Runtime;
  let counter: Pid;
  beforeEach(async () => {
    rt = new Runtime({ logger: silentLogger() });
    counter = await rt.spawn(new Counter());
  });
  afterEach(async () => {
    await rt.shutdown(500);
  });

  it("resolves with the value of the server's reply", async () => {
    assert.equal(await ask(rt, counter, { op: "add", by: 2 }), 2);
    assert.equal(await ask(rt, counter, { op: "add", by: 3 }), 5);
  });

  it("throws the error the server answered with, keeping its class", async () => {
    // The message is built untyped on purpose: a caller outside TypeScript can send anything.
    const bad: { op: "add"; by: number } = JSON.parse('{"op":"add","by":"two"}');
    await assert.rejects(ask(rt, counter, bad), InvalidArgumentError);
    assert.equal(await ask(rt, counter, { op: "add", by: 1 }), 1, "an error reply leaves the server running");
  });

  it("lets the call's own failure through unchanged", async () => {
    await assert.rejects(ask(rt, counter, { op: "crash" }), CallExitError);
  });

  it("rejects a reply that is not a Result with a TypeError naming the server", async () => {
    await assert.rejects(
      ask(rt, counter, { op: "bare" }),
      (error: unknown) => error instanceof TypeError && error.message.includes(String(counter)),
    );
  });

  it("hands the server's error object itself to the caller, not a copy", async () => {
    const refusal = new InvalidArgumentError("by", "refused");
    const refuser = await rt.spawn(
      new (class extends GenServer<unknown, unknown> {
        override handleCall(): unknown {
          return err(refusal);
        }
      })(),
    );
    await assert.rejects(ask(rt, refuser, { op: "add", by: 1 }), (error: unknown) => error === refusal);
  });

  it("answers a process asking through its scope as it answers code outside", async () => {
    const asker = await rt.spawn(new Asker(), { args: counter });
    assert.deepEqual(await rt.call(asker, { by: 4 }), { value: 4 });
    const bad: { by: number } = JSON.parse('{"by":"four"}');
    const answer = (await rt.call(asker, bad)) as { error?: unknown };
    assert.ok(answer.error instanceof InvalidArgumentError);
  });

  it("takes apart a reply that comes from another node as one from this node", async () => {
    const refusal = new InvalidArgumentError("by", "refused remotely");
    // A node whose counter answers 3, refuses, or breaks the protocol, by the request's step.
    const replies: Record<number, unknown> = { 1: ok(3), 2: err(refusal), 3: 42 };
    const route: RemoteRoute = {
      node: "far",
      call: (_from, _to, message) => Promise.resolve(replies[(message as { by: number }).by]),
      cast: () => {},
      send: () => {},
      exit: () => {},
      link: () => {},
      unlink: () => {},
      linkExit: () => {},
      monitor: () => {},
      demonitor: () => {},
    };
    rt.useRouter({ route: (node) => (node === "far" ? route : undefined), namesRoute: undefined });
    const remote = new Pid("far", 1);
    assert.equal(await ask(rt, remote, { op: "add", by: 1 }), 3);
    await assert.rejects(ask(rt, remote, { op: "add", by: 2 }), (error: unknown) => error === refusal);
    await assert.rejects(
      ask(rt, remote, { op: "add", by: 3 }),
      (error: unknown) => error instanceof TypeError && error.message.includes("<far.1>"),
    );
  });

  it("unwraps the reply for a caller of its own that only has call()", async () => {
    const caller = { call: (target: Pid, message: unknown) => rt.call(target, message as never) };
    assert.equal(await ask(caller, counter, { op: "add", by: 7 }), 7);
    const bad: { op: "add"; by: number } = JSON.parse('{"op":"add","by":"seven"}');
    await assert.rejects(ask(caller, counter, bad), InvalidArgumentError);
    await assert.rejects(
      ask(caller, counter, { op: "bare" }),
      (error: unknown) => error instanceof TypeError && error.message.includes(String(counter)),
    );
  });
});
