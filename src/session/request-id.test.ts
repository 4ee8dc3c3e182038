// A message's requestId, given by its sender: its turn's turn_started carries it, and
// cancelTurn can name it (what a caller on another node streams and cancels a turn by).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { recorder, systemsForTests } from "../../test/support/sessions.js";
import { defaultProviders } from "../llm/index.js";
import { InvalidArgumentError } from "../runtime/index.js";
import { TurnCancelledError } from "./errors.js";

const start = systemsForTests();

describe("a message's requestId", () => {
  it("is carried by its turn's turn_started", async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    const rec = recorder();
    await sys.subscribe(id, rec.listener);
    await sys.sendMessage(id, "echo named", { requestId: "caller-1" });
    const started = await rec.waitFor((e) => e.type === "turn_started");
    assert.equal(started.type === "turn_started" && started.requestId, "caller-1");
  });

  it("cancels that message's turn only", async () => {
    const sys = await start({ providers: defaultProviders({ chunkDelayMs: 50 }) });
    const { id } = await sys.createSession();
    const rec = recorder();
    await sys.subscribe(id, rec.listener);
    const first = sys.sendMessage(id, "echo a b c d e f g h i j", { requestId: "first" });
    await rec.waitFor((e) => e.type === "turn_started");
    const second = sys.sendMessage(id, "echo second", { requestId: "second" });
    second.catch(() => undefined);
    // Once the second message waits in the queue, cancelling it by its id answers true.
    let cancelled = false;
    for (let i = 0; i < 100 && !cancelled; i++) {
      cancelled = await sys.cancelTurn(id, "not this one", { requestId: "second" });
      if (!cancelled) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(cancelled, true);
    await assert.rejects(second, TurnCancelledError);
    assert.equal((await first).text, "a b c d e f g h i j");
  });

  it("must be printable text", async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    await assert.rejects(sys.sendMessage(id, "echo x", { requestId: "" }), InvalidArgumentError);
    await assert.rejects(sys.sendMessage(id, "echo x", { requestId: "has space" }), InvalidArgumentError);
  });
});
