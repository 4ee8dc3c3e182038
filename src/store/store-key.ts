import { InvalidSessionIdError } from "./errors.js";

// The store layer's own guard: whatever reaches a query or a file is a short plain token.
const SAFE_KEY = /^[A-Za-z0-9_-]{1,128}$/;

export function assertStoreKey(id: unknown): asserts id is string {
  if (typeof id !== "string" || !SAFE_KEY.test(id)) {
    throw new InvalidSessionIdError(id, "1-128 letters, digits, '_' or '-'");
  }
}
