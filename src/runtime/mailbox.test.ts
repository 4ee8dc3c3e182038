import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CAST, INFO, Mailbox } from "./mailbox.js";

function takeAll(mailbox: Mailbox): [unknown, unknown][] {
  const taken: [unknown, unknown][] = [];
  while (mailbox.length > 0) taken.push([mailbox.takeTag(), mailbox.takeMessage()]);
  return taken;
}

describe("Mailbox", () => {
  it("is empty until a message is pushed, and gives messages back in order", () => {
    const mailbox = new Mailbox();
    assert.equal(mailbox.length, 0);
    mailbox.push(CAST, "a");
    mailbox.push(INFO, "b");
    assert.equal(mailbox.length, 2);
    assert.deepEqual(takeAll(mailbox), [
      [CAST, "a"],
      [INFO, "b"],
    ]);
  });

  it("keeps mailboxes apart while neither has had a message", () => {
    const first = new Mailbox();
    const second = new Mailbox();
    first.push(CAST, "only the first");
    assert.equal(second.length, 0);
    second.push(INFO, "only the second");
    assert.deepEqual(takeAll(first), [[CAST, "only the first"]]);
    assert.deepEqual(takeAll(second), [[INFO, "only the second"]]);
  });

  it("takes messages again after it was drained", () => {
    const mailbox = new Mailbox();
    mailbox.push(CAST, "before");
    assert.deepEqual(mailbox.drainCalls(), []);
    assert.equal(mailbox.length, 0);
    assert.equal(new Mailbox().length, 0);
    mailbox.push(CAST, "after");
    assert.deepEqual(takeAll(mailbox), [[CAST, "after"]]);
  });
});
