import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { advantage, renderTable } from "../bench/table.js";

describe("benchmark table", () => {
  it("counts a higher rate as an advantage", () => {
    assert.equal(advantage({ name: "r", unit: "/s", ours: 200, otp: 100, higherIsBetter: true }), 2);
  });

  it("counts a lower latency as an advantage", () => {
    assert.equal(advantage({ name: "l", unit: "µs", ours: 1, otp: 4, higherIsBetter: false }), 4);
  });

  it("marks a figure worse than OTP's as not met, and leaves the OTP cells empty when it is missing", () => {
    const table = renderTable("t", [
      { name: "slow", unit: "µs", ours: 2, otp: 1, higherIsBetter: false },
      { name: "alone", unit: "/s", ours: 5, otp: undefined, higherIsBetter: true },
    ]);
    assert.match(table, /\| slow +\| µs +\| 2\.00 +\| 1\.00 +\| 0\.50× +\| ≥ OTP +\| NO +\|/);
    assert.match(table, /\| alone +\| \/s +\| 5\.00 +\| +\| +\| +\| +\|/);
  });
});
