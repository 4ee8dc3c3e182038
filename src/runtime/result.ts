/**
 * A reply that carries its failure as a value. Processes answer requests with it so that a bad
 * request becomes an error for the caller instead of a crash of the process that got it.
 */
export type Result<T> = { ok: true; value: T } | { ok: false; error: Error };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });

export const err = (error: unknown): Result<never> => ({
  ok: false,
  error: error instanceof Error ? error : new Error(String(error)),
});

/** The value, or the error thrown on the caller's side. */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw result.error;
}

/**
 * `unwrap` for a reply that crossed a call: a reply that is no Result (a server breaking its
 * protocol) throws a TypeError naming `from`, the server, instead of whatever its fields hold.
 */
export function valueOfResult(reply: unknown, from: { toString(): string }): unknown {
  const result = reply as Result<unknown> | undefined;
  if (result?.ok === true) return result.value;
  if (result?.ok === false) throw result.error;
  throw new TypeError(`${from} answered a request with something that is not a Result`);
}

/** Runs `handle` and turns a throw into an error result. */
export async function resultOf<T>(handle: () => Promise<T> | T): Promise<Result<T>> {
  try {
    return ok(await handle());
  } catch (error) {
    return err(error);
  }
}
