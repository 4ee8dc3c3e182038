// Flow control between a host and its parent, on its own: the host's window, and the parent's
// queue that handles a host's frames in slices and acknowledges them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FRAME_COST_BYTES, frameBytes, Inbound, SendWindow } from "./flow-control.js";
import type { Frame } from "./frames.js";

const cast = (text: string): Frame => ({ t: "cast", to: "somebody", name: true, message: { text } });
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe("a host's send window", () => {
  it("admits frames up to its budget, and one frame larger than the budget when nothing is in flight", () => {
    const window = new SendWindow(3 * FRAME_COST_BYTES);
    assert.ok(window.admits(10 * FRAME_COST_BYTES), "a large frame alone");
    window.sent(FRAME_COST_BYTES);
    window.sent(FRAME_COST_BYTES);
    assert.ok(window.admits(FRAME_COST_BYTES));
    window.sent(FRAME_COST_BYTES);
    assert.ok(!window.admits(1), "over the budget");
    window.acked(2);
    assert.equal(window.frames, 1);
    assert.equal(window.bytes, FRAME_COST_BYTES);
    assert.ok(window.admits(2 * FRAME_COST_BYTES));
  });
});

describe("a frame's size", () => {
  it("counts its payload and a fixed cost per frame", () => {
    const small = frameBytes(cast("x"));
    const large = frameBytes(cast("x".repeat(10_000)));
    assert.ok(small >= FRAME_COST_BYTES);
    assert.ok(large - small >= 9_999);
  });
});

describe("the parent's queue of a host's frames", () => {
  it("handles them in order, leaving the rest of a long burst to later turns", async () => {
    const handled: string[] = [];
    const inbound = new Inbound(
      1_000_000 * FRAME_COST_BYTES,
      (frame) => {
        const until = performance.now() + 0.2;
        while (performance.now() < until) {}
        handled.push(((frame as Extract<Frame, { t: "cast" }>).message as { text: string }).text);
        return undefined;
      },
      () => {},
      () => assert.fail("not over its budget"),
    );
    for (let i = 0; i < 200; i++) inbound.push(cast(String(i)));
    assert.ok(handled.length < 200, `all ${handled.length} handled in one turn`);
    while (handled.length < 200) await nextTurn();
    assert.deepEqual(
      handled,
      Array.from({ length: 200 }, (_, i) => String(i)),
    );
  });

  it("acknowledges handled frames in batches, and one whose handling goes on when it ends", async () => {
    const acks: number[] = [];
    let finish!: () => void;
    const inbound = new Inbound(
      1_000_000 * FRAME_COST_BYTES,
      (frame) =>
        frame.t === "service"
          ? new Promise<void>((resolve) => {
              finish = resolve;
            })
          : undefined,
      (handled) => acks.push(handled),
      () => assert.fail("not over its budget"),
    );
    inbound.push({ t: "service", id: 1, service: "s", method: "m", args: [] });
    inbound.push(cast("a"));
    inbound.push(cast("b"));
    await nextTurn();
    assert.deepEqual(acks, [2], "one ack for the two frames handled at once");
    finish();
    await nextTurn();
    await nextTurn();
    assert.deepEqual(acks, [2, 3]);
  });

  it("says when what waits for the parent passes the host's budget", () => {
    let over: number | undefined;
    const inbound = new Inbound(
      4 * FRAME_COST_BYTES,
      () => new Promise(() => {}),
      () => {},
      (waiting) => {
        over = waiting;
      },
    );
    for (let i = 0; i < 3; i++) inbound.push(cast(String(i)));
    assert.equal(over, undefined);
    inbound.push(cast("3"));
    assert.ok(over !== undefined && over > 4 * FRAME_COST_BYTES);
  });
});
