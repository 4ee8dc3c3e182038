import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { withProgress } from "./progress.js";

function terminal(isTTY: boolean) {
  const written: string[] = [];
  return { written, out: { isTTY, write: (text: string) => written.push(text) } };
}

const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe("progress of the command line's slow work", () => {
  it("shows a spinner with its label on a terminal once the work takes over a second, and wipes it", async () => {
    const { written, out } = terminal(true);
    assert.equal(await withProgress(out, {}, "opening the store", after(1300, "done")), "done");
    assert.ok(written.some((text) => text.includes("opening the store")));
    assert.equal(written.at(-1), "\r\x1b[2K");
  });

  it("shows nothing for work that ends within a second", async () => {
    const { written, out } = terminal(true);
    await withProgress(out, {}, "quick", after(10, 1));
    assert.deepEqual(written, []);
  });

  it("shows nothing when the output is not a terminal", async () => {
    const { written, out } = terminal(false);
    await withProgress(out, {}, "piped", after(1100, 1));
    assert.deepEqual(written, []);
  });

  it("passes the work's failure on, the spinner wiped", async () => {
    const { written, out } = terminal(true);
    const failing = after(1100, 0).then(() => {
      throw new Error("the store is corrupt");
    });
    await assert.rejects(withProgress(out, {}, "opening", failing), /the store is corrupt/);
    assert.equal(written.at(-1), "\r\x1b[2K");
  });
});
