import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IdTable } from "./id-table.js";

describe("IdTable", () => {
  it("gets what was set, by id, and nothing for ids never set", () => {
    const table = new IdTable<string>();
    table.set(1, "one");
    table.set(40, "forty");
    assert.equal(table.get(1), "one");
    assert.equal(table.get(40), "forty");
    assert.equal(table.get(2), undefined);
    assert.equal(table.get(1_000_000), undefined);
    assert.equal(table.has(40), true);
    assert.equal(table.has(41), false);
  });

  it("counts each id once, however often it is set", () => {
    const table = new IdTable<string>();
    table.set(5, "a");
    table.set(5, "b");
    table.set(6, "c");
    assert.equal(table.size, 2);
    assert.equal(table.get(5), "b");
  });

  it("forgets a deleted id, says whether it held it, and keeps the others", () => {
    const table = new IdTable<string>();
    for (let id = 1; id <= 40; id++) table.set(id, `p${id}`);
    assert.equal(table.delete(17), true);
    assert.equal(table.delete(17), false);
    assert.equal(table.delete(99), false);
    assert.equal(table.get(17), undefined);
    assert.equal(table.get(18), "p18");
    assert.equal(table.size, 39);
  });

  it("gives values in id order, as a Map filled in increasing id order does, across emptied pages", () => {
    const table = new IdTable<number>();
    const map = new Map<number, number>();
    for (let id = 1; id <= 100; id++) {
      table.set(id, id);
      map.set(id, id);
      // Every page of the first 64 ids emptied but a few, and refilled by later ids only.
      if (id > 3 && id <= 64 && id % 7 !== 0) {
        table.delete(id - 3);
        map.delete(id - 3);
      }
    }
    assert.deepEqual(table.values(), [...map.values()]);
    assert.equal(table.size, map.size);
  });

  it("is empty again once every id is deleted", () => {
    const table = new IdTable<string>();
    for (let id = 1; id <= 50; id++) table.set(id, "x");
    for (let id = 1; id <= 50; id++) table.delete(id);
    assert.equal(table.size, 0);
    assert.deepEqual(table.values(), []);
    table.set(51, "again");
    assert.deepEqual(table.values(), ["again"]);
  });
});
