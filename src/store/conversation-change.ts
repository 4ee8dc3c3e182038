import { InvalidArgumentError } from "../errors.js";
import type { CorruptEntry } from "./errors.js";
import type { StoredJson } from "./session-store.js";
import { parseStoredText } from "./stored-text.js";

type JsonObject = { [key: string]: StoredJson };

/**
 * One change to a stored conversation, applied whole or not at all, in this order: `replace`,
 * `append`, `keepFrom`, `set`. Its cost is the size of the change, never of the history.
 *
 * A stored conversation is an object whose `turns` list is kept turn by turn (each turn is
 * found by its `id`, a string) and whose other fields (the head: counters, files) are kept
 * together. A conversation not stored yet starts as `{ turns: [] }`.
 */
export interface ConversationChange {
  /** Turns that replace the stored turn with the same `id` (the newest, should several share it). */
  replace?: StoredJson[];
  /** Turns added after the newest stored one, in order. */
  append?: StoredJson[];
  /**
   * Deletes every turn older than the (oldest) one with this `id`: the oldest turns, trimmed
   * past a limit.
   */
  keepFrom?: string;
  /** Fields of the head to set, each replacing what is stored under its name (never `turns`). */
  set?: JsonObject | undefined;
}

/** The `id` that finds a turn, if it has one. */
export function turnIdOf(turn: StoredJson): string | undefined {
  if (typeof turn !== "object" || turn === null || Array.isArray(turn)) return undefined;
  const id = turn.id;
  return typeof id === "string" ? id : undefined;
}

/** Refuses a change that is not one, before the backend writes anything. */
export function assertConversationChange(change: ConversationChange): void {
  if (typeof change !== "object" || change === null)
    throw new InvalidArgumentError("conversation change", "must be an object");
  const { replace, append, keepFrom, set } = change;
  if (replace !== undefined) {
    if (!Array.isArray(replace)) throw new InvalidArgumentError("replace", "must be a list of turns");
    replace.forEach((turn, i) => {
      if (turnIdOf(turn) === undefined)
        throw new InvalidArgumentError(`replace.${i}`, "must be a turn with a string id");
    });
  }
  if (append !== undefined && !Array.isArray(append))
    throw new InvalidArgumentError("append", "must be a list of turns");
  if (keepFrom !== undefined && typeof keepFrom !== "string")
    throw new InvalidArgumentError("keepFrom", "must be a turn id");
  if (set !== undefined) {
    if (typeof set !== "object" || set === null || Array.isArray(set))
      throw new InvalidArgumentError("set", "must be an object of fields");
    if (Object.hasOwn(set, "turns"))
      throw new InvalidArgumentError("set.turns", "turns change only through replace, append and keepFrom");
  }
}

/** A turn the change names that is not stored: the caller's idea of the conversation is wrong. */
export function missingTurn(
  field: "replace" | "keepFrom",
  id: string,
  sessionId: string,
): InvalidArgumentError {
  return new InvalidArgumentError(field, `session ${sessionId} has no stored turn ${JSON.stringify(id)}`);
}

/** A change to a conversation kept whole, because it is not an object with a list of turns. */
export function notTurnByTurn(sessionId: string): InvalidArgumentError {
  return new InvalidArgumentError(
    "conversation",
    `the stored conversation of session ${sessionId} is not an object with a turns list`,
  );
}

/**
 * A conversation as a backend keeps it: the head (everything but `turns`) and the turns one by
 * one; `turns` undefined when the value is not an object with a list of turns (kept whole).
 */
export function splitConversation(conversation: StoredJson): {
  head: StoredJson;
  turns: StoredJson[] | undefined;
} {
  if (typeof conversation !== "object" || conversation === null || Array.isArray(conversation))
    return { head: conversation, turns: undefined };
  const { turns, ...head } = conversation;
  return Array.isArray(turns) ? { head, turns } : { head: conversation, turns: undefined };
}

/**
 * The conversation from its head and its turns' stored texts joined with commas, oldest first:
 * one parse for the whole list. Text that is not JSON is a StoreCorruptError naming the session.
 */
export function joinConversation(
  headText: string,
  turnsText: string | undefined,
  entry: Omit<CorruptEntry, "field">,
): StoredJson {
  const head = parseStoredText(headText, entry);
  const turns = parseStoredText(`[${turnsText ?? ""}]`, entry);
  return { ...(head as JsonObject), turns };
}
