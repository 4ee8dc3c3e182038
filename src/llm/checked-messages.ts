import { InvalidArgumentError } from "../errors.js";

interface Message {
  role: string;
  content: string;
}

/**
 * Recently checked message lists, each keyed by its last message: a session's next request is
 * its last one plus the reply and the new user message, with the oldest turns perhaps dropped.
 * Every message of a list kept here was frozen and valid when checked, so one found again by
 * identity needs no second look: comparing two lists of references stays in two arrays, where
 * reading each message again would miss the cache once per message of the history every turn.
 * Weakly keyed: a list is kept only while its last message is alive (a session's context holds
 * it), so an ended conversation is not held here, and no bound is needed.
 */
const kept = new WeakMap<object, readonly unknown[]>();

/** How far from the end a request's previous last message is looked for (reply + user message, and slack). */
const LOOKBACK = 4;

/** Throws InvalidArgumentError naming the first message that has no role of the three or no string content. */
export function checkMessages(messages: readonly unknown[]): void {
  const n = messages.length;
  // Which messages match a checked list, found by walking back from a message that ended one.
  let matchedFrom = n;
  let matchedTo = n;
  for (let end = n - 1; end >= 0 && end >= n - LOOKBACK; end--) {
    const key = messages[end];
    if (typeof key !== "object" || key === null) continue;
    const previous = kept.get(key);
    if (previous === undefined) continue;
    kept.delete(key);
    let i = end;
    let j = previous.length - 1;
    while (i >= 0 && j >= 0 && messages[i] === previous[j]) {
      i--;
      j--;
    }
    matchedFrom = i + 1;
    matchedTo = end + 1;
    break;
  }
  let allFrozen = true;
  for (let i = 0; i < n; i++) {
    if (i === matchedFrom) {
      i = matchedTo - 1;
      continue;
    }
    const message = messages[i];
    checkMessage(message, i);
    if (allFrozen && !Object.isFrozen(message)) allFrozen = false;
  }
  const last = messages[n - 1];
  if (!allFrozen || n === 0) return;
  kept.set(last as object, messages.slice());
}

function checkMessage(message: unknown, i: number): void {
  const role = typeof message === "object" && message !== null ? (message as Message).role : undefined;
  if (
    (role !== "user" && role !== "assistant" && role !== "system") ||
    typeof (message as Message).content !== "string"
  ) {
    throw new InvalidArgumentError(
      `request.messages[${i}]`,
      "must have a role (system, user or assistant) and string content",
    );
  }
}
