import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import {
  CallExitError,
  err,
  GenServer,
  InvalidArgumentError,
  ok,
  type Pid,
  Runtime,
  silentLogger,
} from "../runtime/index.js";
import { type ReplyResult, type Request, requester } from "./requests.js";

type CounterRequests = {
  add: { request: { by: number }; reply: number };
  crash: { request: object; reply: undefined };
};

/** Answers `add` with the new total; refuses a step that is not a number with an error reply. */
class Counter extends GenServer<Request<CounterRequests>, ReplyResult<CounterRequests>> {
  private total = 0;

  override handleCall(message: Request<CounterRequests>): ReplyResult<CounterRequests> {
    if (message.op === "crash") throw new Error("asked to crash");
    if (typeof message.by !== "number") return err(new InvalidArgumentError("by", "must be a number"));
    this.total += message.by;
    return ok(this.total);
  }
}

const ask = requester<CounterRequests>();

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
});
