import type { Target } from "./target.js";

/**
 * A call whose reply is a `Result`, settled with the result's value or rejected with its error
 * as the reply arrives: what a typed request helper would otherwise do in a `.then(unwrap)` of
 * its own, at the cost of a second promise, its reaction and one more microtask before the
 * caller resumes, on every request. The Runtime (for code outside processes) and every
 * process's scope have it. Not exported from the package: the request helpers use it.
 */
export const CALL_FOR_RESULT: unique symbol = Symbol("sessionvisor.callForResult");

export interface ResultCaller {
  [CALL_FOR_RESULT](target: Target, message: unknown, timeoutMs?: number): Promise<unknown>;
}

/** Whether `caller` can take a call's Result apart as the reply arrives. */
export function isResultCaller(caller: unknown): caller is ResultCaller {
  return (
    typeof caller === "object" &&
    caller !== null &&
    typeof (caller as Partial<ResultCaller>)[CALL_FOR_RESULT] === "function"
  );
}
