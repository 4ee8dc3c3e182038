import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { distinctKeys } from "./kv-keys.js";

describe("distinctKeys", () => {
  it("gives a key written again during the listing once, in the order first seen", async () => {
    // What nats.js's keys() delivers when node-b heartbeats while the bucket is listed.
    const kv = {
      keys: async () =>
        (async function* () {
          yield* ["node-a", "node-b", "node-b", "node-a", "node-c"];
        })(),
    };
    assert.deepEqual(await distinctKeys(kv), ["node-a", "node-b", "node-c"]);
  });
});
