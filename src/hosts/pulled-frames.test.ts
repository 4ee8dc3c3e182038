import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { MessageChannel } from "node:worker_threads";
import { BELL, framePoster, PulledFrames } from "./pulled-frames.js";

interface Rig {
  post: (frame: unknown) => void;
  reader: PulledFrames<number>;
  got: number[];
  /** The turn of the event loop each frame was handed over in. */
  turns: number[];
  bells: () => number;
}

/**
 * A host's side and a parent's side in one thread, as a thread host has them: the pulled channel,
 * and the usual port carrying bells and the frames posted while the parent keeps up.
 */
function rig(
  t: TestContext,
  options: { handle?: () => void; caughtUp?: () => boolean; behind?: () => boolean } = {},
): Rig {
  const frames = new MessageChannel();
  const usual = new MessageChannel();
  const flag = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  const got: number[] = [];
  const turns: number[] = [];
  let sent = 0;
  let turn = 0;
  let ticking = true;
  const tick = () => {
    turn++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  const deliver = (frame: number) => {
    got.push(frame);
    turns.push(turn);
    options.handle?.();
  };
  const reader = new PulledFrames<number>(frames.port1, flag, deliver, options.caughtUp);
  let rung = 0;
  usual.port1.on("message", (message: number | typeof BELL) => {
    if (message !== BELL) return deliver(message);
    rung++;
    reader.rang();
  });
  t.after(() => {
    ticking = false;
    reader.close();
    usual.port1.close();
  });
  const poster = framePoster(
    { port: frames.port2, flag },
    { behind: options.behind ?? (() => true), sent: () => sent, handled: () => got.length },
    (frame) => usual.port2.postMessage(frame),
    () => usual.port2.postMessage(BELL),
  );
  return {
    post: (frame) => {
      sent++;
      poster(frame);
    },
    reader,
    got,
    turns,
    bells: () => rung,
  };
}

const turnsOfLoop = (n: number) =>
  (async () => {
    for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
  })();

async function until(test: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function busyFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {}
}

describe("a thread host's pulled channel", () => {
  it("hands every frame over in order, a burst posted to an idle reader ringing once", async (t) => {
    const r = rig(t);
    for (const n of range(500)) r.post(n);
    await until(() => r.got.length === 500, "every frame");
    assert.deepEqual(r.got, range(500));
    assert.equal(r.bells(), 1);
  });

  it("rings again for a frame posted after the reader found the channel empty", async (t) => {
    const r = rig(t);
    r.post(0);
    await until(() => r.got.length === 1, "the first frame");
    await turnsOfLoop(3);
    r.post(1);
    await until(() => r.got.length === 2, "the second frame");
    assert.equal(r.bells(), 2);
  });

  it("takes a backlog over many turns of the loop, a slice at a time", async (t) => {
    // 40 frames of 0.25 ms of work each: 10 ms, which 1 ms slices spread over ~10 turns.
    const r = rig(t, { handle: () => busyFor(0.25) });
    for (const n of range(40)) r.post(n);
    await until(() => r.got.length === 40, "every frame");
    assert.deepEqual(r.got, range(40));
    const distinctTurns = new Set(r.turns).size;
    assert.ok(distinctTurns >= 5, `taken in ${distinctTurns} turns`);
  });

  it("takes nothing more while the parent has not caught up, and goes on once it has", async (t) => {
    let caughtUp = true;
    const r = rig(t, {
      handle: () => {
        caughtUp = false;
      },
      caughtUp: () => caughtUp,
    });
    for (const n of range(10)) r.post(n);
    await until(() => r.got.length === 1, "the first frame");
    await turnsOfLoop(5);
    assert.deepEqual(r.got, [0]);
    caughtUp = true;
    await until(() => r.got.length === 2, "the second frame");
    assert.deepEqual(r.got, [0, 1]);
  });

  it("hands over every frame left at once when drained, in order", (t) => {
    const r = rig(t);
    for (const n of range(100)) r.post(n);
    r.reader.drain();
    assert.deepEqual(r.got, range(100));
  });

  it("posts on the usual port while the parent keeps up, ringing no bell", async (t) => {
    const r = rig(t, { behind: () => false });
    for (const n of range(50)) r.post(n);
    await until(() => r.got.length === 50, "every frame");
    assert.deepEqual(r.got, range(50));
    assert.equal(r.bells(), 0);
  });

  it("keeps frames in order across the two ports: back on the usual one only once the pulled ones are handled", async (t) => {
    let behind = false;
    // Slow enough that a slice takes two pulled frames, not all ten before the usual port's next.
    const r = rig(t, { behind: () => behind, handle: () => busyFor(0.6) });
    for (const n of range(10)) r.post(n); // the usual port
    behind = true;
    for (const n of range(10)) r.post(10 + n); // pulled
    behind = false;
    for (const n of range(10)) r.post(20 + n); // still pulled: 10–19 are not handled yet
    await until(() => r.got.length === 30, "thirty frames");
    r.post(30); // every pulled frame handled: the usual port again
    await until(() => r.got.length === 31, "the last frame");
    assert.deepEqual(r.got, range(31));
    assert.equal(r.bells(), 1);
  });

  it("hands over nothing once closed", async (t) => {
    const r = rig(t);
    r.reader.close();
    r.post(1);
    await turnsOfLoop(5);
    assert.deepEqual(r.got, []);
  });
});
