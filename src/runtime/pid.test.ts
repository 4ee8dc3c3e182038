import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "./errors.js";
import { Pid, Ref } from "./pid.js";

describe("Pid", () => {
  it("parses back from its text form", () => {
    const pid = new Pid("node-1", 42);
    const back = Pid.parse(pid.toString());
    assert.equal(pid.toString(), "<node-1.42>");
    assert.ok(back.equals(pid));
  });

  it("serializes to JSON as its text form", () => {
    assert.equal(JSON.stringify({ pid: new Pid("a", 7) }), '{"pid":"<a.7>"}');
  });

  it("rejects text that is not a pid with a typed error", () => {
    for (const bad of ["", "<a>", "a.1", "<a.1", "<a b.1>", "<a.-1>"]) {
      assert.throws(() => Pid.parse(bad), InvalidArgumentError, bad);
    }
  });

  it("is not equal to a pid of another node with the same number", () => {
    assert.equal(new Pid("a", 1).equals(new Pid("b", 1)), false);
  });
});

describe("Ref", () => {
  it("parses back from its text form", () => {
    const ref = new Ref("n", 3);
    assert.ok(Ref.parse(ref.toString()).equals(ref));
  });
});
