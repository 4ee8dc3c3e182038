// The cluster's wire format on its own (no NATS): terms through the hosts' term codec, then
// JSON and back, arrive as they would through a host's structured clone.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { packOutcome, packReason, packTerm, unpackTerm } from "../src/cluster/route-wire.js";
import { UnsendableMessageError } from "../src/hosts/index.js";
import { CallExitError, Pid } from "../src/runtime/index.js";

const trip = (value: unknown) => unpackTerm(JSON.parse(JSON.stringify(packTerm(value))));

describe("cluster wire terms", () => {
  it("keep what JSON alone would lose or change", () => {
    const buffer = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer;
    const value = {
      u: undefined,
      list: [undefined, Number.NaN, Number.NEGATIVE_INFINITY, -0, 0],
      big: -(2n ** 70n),
      date: new Date(0),
      badDate: new Date(Number.NaN),
      ab: buffer,
      view: new DataView(buffer, 2, 4),
      big64: new BigInt64Array([1n, -1n]),
      slice: new Uint16Array(new Uint8Array([9, 9, 1, 0, 2, 0]).buffer, 2, 2),
      set: new Set([new Map([[{ $w: "u" }, "a key like a tag"]])]),
    };
    const back = trip(value) as typeof value;
    assert.ok("u" in back && back.u === undefined);
    assert.deepEqual(back.list, value.list);
    assert.ok(Object.is(back.list[3], -0));
    assert.equal(back.big, value.big);
    assert.deepEqual(back.date, value.date);
    assert.ok(Number.isNaN(back.badDate.getTime()));
    assert.deepEqual(new Uint8Array(back.ab), new Uint8Array(buffer));
    assert.ok(back.view instanceof DataView && back.view.byteLength === 4 && back.view.getUint8(0) === 3);
    assert.deepEqual(back.big64, value.big64);
    assert.deepEqual([...back.slice], [1, 2]);
    assert.deepEqual(back.set, value.set);
  });

  it("keep a record whose own keys look like the wire's tags", () => {
    // (A record shaped like one of the term codec's own tags, `{ $sessionvisor: "pid", text }`,
    // is read as that tag, here as through a host: the codec's rule, not the wire's.)
    const value = { $w: "map", v: [[1, 2]], inner: { $w: "u" }, list: [{ $w: "obj", v: {} }] };
    assert.deepEqual(trip(value), value);
  });

  it("rebuild pids and registered errors with their class", () => {
    const back = trip([new Pid("n1", 7), new CallExitError("<n1.7>", "boom")]) as [Pid, CallExitError];
    assert.ok(back[0] instanceof Pid && back[0].equals(new Pid("n1", 7)));
    assert.ok(back[1] instanceof CallExitError && back[1].reason === "boom");
  });

  it("refuse functions, symbols, class instances and cycles, naming where", () => {
    assert.throws(() => packTerm({ a: [1, () => 2] }), /message\.a\[1\] is a function/);
    assert.throws(() => packTerm({ s: Symbol("x") }), UnsendableMessageError);
    assert.throws(() => packTerm(new (class Thing {})()), /instance of Thing/);
    const cycle: unknown[] = [];
    cycle.push(cycle);
    assert.throws(() => packTerm(cycle), /circular or nested too deeply/);
  });

  it("send a reason that cannot travel as its description, and a reply that cannot as the error", () => {
    assert.equal(packReason(Symbol("why")), "Symbol(why)");
    const outcome = packOutcome(true, { f() {} });
    assert.equal(outcome.ok, false);
    const error = unpackTerm(JSON.parse(JSON.stringify(outcome.ok ? undefined : outcome.error)));
    assert.ok(error instanceof UnsendableMessageError);
  });

  it("leave a tag of a newer version as it came", () => {
    assert.deepEqual(unpackTerm({ $w: "future", v: 1 }), { $w: "future", v: 1 });
  });
});
