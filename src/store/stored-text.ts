import { type CorruptEntry, StoreCorruptError } from "./errors.js";
import type { StoredJson } from "./session-store.js";

/** Parses what a backend kept as text; text that is not JSON is a damaged entry, never a SyntaxError. */
export function parseStoredText(text: string, entry: Omit<CorruptEntry, "field">): StoredJson {
  try {
    return JSON.parse(text) as StoredJson;
  } catch (error) {
    throw new StoreCorruptError(entry, error);
  }
}
