import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeCodeCache, encodeCodeCache } from "./host-code.js";

describe("a code cache as one buffer (a process host's)", () => {
  it("decodes to the chunks it was made of, byte for byte", () => {
    const cache = {
      "chunk-A.cjs": Uint8Array.from([1, 2, 3]),
      "chunk-B.cjs": new Uint8Array(70_000).fill(9),
    };
    const decoded = decodeCodeCache(encodeCodeCache(cache));
    assert.deepEqual(Object.keys(decoded), ["chunk-A.cjs", "chunk-B.cjs"]);
    assert.deepEqual([...(decoded["chunk-A.cjs"] ?? [])], [1, 2, 3]);
    assert.equal(decoded["chunk-B.cjs"]?.byteLength, 70_000);
    assert.ok(decoded["chunk-B.cjs"]?.every((byte) => byte === 9));
  });

  it("refuses a buffer whose index names more bytes than it holds", () => {
    const encoded = encodeCodeCache({ "chunk-A.cjs": new Uint8Array(100) });
    assert.throws(() => decodeCodeCache(encoded.subarray(0, encoded.length - 1)), RangeError);
  });
});
