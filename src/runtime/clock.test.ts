import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { monotonicMs, systemClock } from "./clock.js";

describe("the system clock", () => {
  it("counts milliseconds, as performance.now() does", async () => {
    const clock0 = monotonicMs();
    const performance0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const counted = monotonicMs() - clock0;
    const elapsed = performance.now() - performance0;
    // The same unit: a loaded machine may pause between two reads, never by a factor of two.
    assert.ok(
      counted > elapsed / 2 && counted < elapsed * 2,
      `counted ${counted} ms where ${elapsed} ms passed`,
    );
    assert.ok(counted >= 45, `counted ${counted} ms over a 50 ms timer`);
  });

  it("never goes back between reads", () => {
    let last = systemClock.now();
    for (let i = 0; i < 100_000; i++) {
      const now = systemClock.now();
      assert.ok(now >= last, `${now} after ${last}`);
      last = now;
    }
  });

  it("resolves below a microsecond", () => {
    const reads = new Set<number>();
    for (let i = 0; i < 1000; i++) reads.add(monotonicMs());
    // A clock of whole milliseconds would give one or two values in a tight loop of reads.
    assert.ok(reads.size > 10, `${reads.size} distinct reads of 1000`);
  });
});
