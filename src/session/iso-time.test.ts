import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatIso } from "./iso-time.js";

describe("formatIso", () => {
  it("gives toISOString's text for the same Date asked again", () => {
    const date = new Date(1_700_000_000_123);
    assert.equal(formatIso(date), date.toISOString());
    assert.equal(formatIso(date), date.toISOString());
  });

  it("gives the new text for a Date whose time was changed since it was formatted", () => {
    const date = new Date(1_700_000_000_000);
    formatIso(date);
    date.setTime(1_800_000_000_000);
    assert.equal(formatIso(date), "2027-01-15T08:00:00.000Z");
  });

  it("gives each Date its own text when several are formatted in turn", () => {
    const dates = [new Date(1), new Date(2), new Date(3), new Date(2), new Date(1)];
    for (const date of dates) assert.equal(formatIso(date), date.toISOString());
  });

  it("throws RangeError for an invalid Date, as toISOString does", () => {
    const invalid = new Date(Number.NaN);
    assert.throws(() => formatIso(invalid), RangeError);
    assert.throws(() => formatIso(invalid), RangeError);
  });
});
