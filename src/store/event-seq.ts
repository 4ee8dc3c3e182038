import { InvalidArgumentError } from "../errors.js";

/** An event number, or a count of them: a whole number from `min` up, safe as a JS number. */
export function assertEventSeq(value: unknown, name: string, min = 1): asserts value is number {
  if (!(Number.isSafeInteger(value) && (value as number) >= min)) {
    throw new InvalidArgumentError(name, `must be a whole number >= ${min}`);
  }
}
