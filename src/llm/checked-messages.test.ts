import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../errors.js";
import { checkMessages } from "./checked-messages.js";

const message = (role: string, content: unknown) => Object.freeze({ role, content });
const rejectsAt = (messages: unknown[], index: number) =>
  assert.throws(
    () => checkMessages(messages),
    (error: unknown) =>
      error instanceof InvalidArgumentError && error.message.includes(`request.messages[${index}]`),
  );

describe("checkMessages", () => {
  it("rejects a bad message added after a list it checked before, naming its index", () => {
    const history = [message("user", "a"), message("assistant", "b")];
    checkMessages(history);
    rejectsAt([...history, message("tool", "c")], 2);
  });

  it("still checks the messages before the part that repeats a list it checked", () => {
    const history = [message("system", "s"), message("user", "a"), message("assistant", "b")];
    checkMessages(history);
    rejectsAt([message("user", 42), ...history.slice(1), message("user", "c")], 0);
  });

  it("checks again a message that was not frozen, so a change to it is seen", () => {
    const open = { role: "user", content: "a" };
    const history = [message("system", "s"), open];
    checkMessages(history);
    open.role = "tool";
    rejectsAt([...history, message("assistant", "b"), message("user", "c")], 1);
  });
});
