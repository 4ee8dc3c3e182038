import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { formatJsonPath, toJsonData } from "./json-data.js";

const roomy = { maxLength: 10_000_000 };

function refusal(value: unknown, limits = roomy): string {
  const result = toJsonData(value, limits);
  assert.equal(result.ok, false, "expected a refusal");
  return result.ok ? "" : formatJsonPath(result.path);
}

describe("toJsonData", () => {
  it("copies JSON data exactly and counts its length as JSON.stringify does", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const result = toJsonData(value, roomy);
        assert.ok(result.ok);
        assert.deepEqual(result.value, JSON.parse(JSON.stringify(value)));
        assert.equal(result.length, JSON.stringify(value).length);
      }),
    );
  });

  it("copies -0 as 0, as a JSON round trip does", () => {
    const result = toJsonData({ zero: -0, list: [-0] }, roomy);
    assert.ok(result.ok);
    assert.ok(Object.is((result.value as { zero: number }).zero, 0));
    assert.ok(Object.is((result.value as { list: number[] }).list[0], 0));
  });

  it("keeps nothing of the caller's value", () => {
    const original = { list: [1, { a: "x" }] };
    const result = toJsonData(original, roomy);
    assert.ok(result.ok);
    (original.list[1] as { a: string }).a = "changed";
    assert.deepEqual(result.value, { list: [1, { a: "x" }] });
  });

  it("refuses what is not JSON data, naming where it is", () => {
    const circular: Record<string, unknown> = { inner: {} };
    (circular.inner as Record<string, unknown>).back = circular;
    const throwing = {
      get bad(): number {
        throw new Error("getter");
      },
    };
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    assert.equal(refusal(circular), "inner.back");
    assert.equal(refusal({ a: [1, throwing] }), "a.1.bad");
    assert.equal(refusal({ n: 10n }), "n");
    assert.equal(refusal({ s: Symbol("s") }), "s");
    assert.equal(refusal({ f: () => 1 }), "f");
    assert.equal(refusal({ when: new Date() }), "when");
    assert.equal(refusal({ m: new Map() }), "m");
    assert.equal(refusal({ x: Number.NaN }), "x");
    assert.equal(refusal({ p: revoked.proxy }), "p");
    // biome-ignore lint/suspicious/noSparseArray: a hole is what is tested
    assert.equal(refusal([1, , 3]), "1");
    assert.equal(
      refusal(
        new Proxy(
          {},
          {
            ownKeys: () => {
              throw new Error("trap");
            },
          },
        ),
      ),
      "",
    );
  });

  it("refuses a value past its length or depth limit without reading all of it", () => {
    assert.equal(refusal({ big: "x".repeat(1_000_000) }, { maxLength: 1000 }), "big");
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    assert.equal(toJsonData(deep, { maxLength: 1_000_000, maxDepth: 8 }).ok, false);
    let reads = 0;
    const endless = new Proxy([], {
      get: (_target, key) => {
        if (key === "length") return 1e9;
        reads++;
        return 1;
      },
    });
    assert.equal(toJsonData(endless, { maxLength: 100 }).ok, false);
    assert.ok(reads < 100);
  });

  it("keeps a key named __proto__ as data", () => {
    const result = toJsonData(JSON.parse('{"__proto__": {"polluted": true}}'), roomy);
    assert.ok(result.ok);
    assert.equal(Object.getPrototypeOf(result.value), Object.prototype);
    assert.equal(JSON.stringify(result.value), '{"__proto__":{"polluted":true}}');
  });
});
