import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as cluster from "../src/cluster/index.js";
import * as api from "../src/index.js";

const { decodeTerm, encodeTerm, SessionvisorError } = api;

type ErrorClass = new (...args: never[]) => Error;

/** What arrives on the other side of a host boundary: encoded, structured-cloned, decoded. */
function across(value: unknown): unknown {
  return decodeTerm(structuredClone(encodeTerm(value)));
}

/**
 * Every SessionvisorError class (the base included) the public API exports: the root's, and
 * the cluster's (`sessionvisor/cluster`, kept out of the root because of its optional peers).
 */
function exportedErrorClasses(): [string, ErrorClass][] {
  const found: [string, ErrorClass][] = [];
  const entries = [...Object.entries(api as Record<string, unknown>), ...Object.entries(cluster)];
  for (const [name, value] of entries) {
    if (typeof value !== "function") continue;
    if (value === SessionvisorError || value.prototype instanceof SessionvisorError)
      found.push([name, value as ErrorClass]);
  }
  return found;
}

/**
 * An instance as its constructor builds it, from placeholder arguments; a constructor that
 * cannot take them gets an instance shaped as one would be (only its name and prototype matter
 * to the codec).
 */
function sample(type: ErrorClass): Error {
  try {
    return Reflect.construct(
      type,
      Array.from({ length: type.length }, () => "x"),
    ) as Error;
  } catch {
    const error = Object.create(type.prototype) as Error;
    Object.defineProperty(error, "name", { value: type.name, writable: true, configurable: true });
    error.message = `a ${type.name}`;
    return error;
  }
}

function keepsItsClass(type: ErrorClass): boolean {
  const out = across(sample(type));
  return out instanceof type && Object.getPrototypeOf(out) === type.prototype;
}

describe("revivable errors", () => {
  it("finds the error classes of every layer among the public exports", () => {
    const names = exportedErrorClasses().map(([name]) => name);
    for (const name of [
      "SessionvisorError",
      "InvalidArgumentError",
      "NoProcError",
      "ChildStartError",
      "NameTakenError",
      "HostDownError",
      "StoreClosedError",
      "LlmProviderError",
      "SessionNotFoundError",
    ]) {
      assert.ok(names.includes(name), `${name} is not among the exported error classes`);
    }
  });

  it("gives every exported SessionvisorError class its class back after crossing a host", () => {
    const lost = exportedErrorClasses()
      .filter(([, type]) => !keepsItsClass(type))
      .map(([name]) => name);
    assert.deepEqual(lost, [], `not registered with registerRevivableError: ${lost.join(", ")}`);
  });

  it("does not revive a subclass nobody registered (so the check above can fail)", () => {
    class ForgottenError extends SessionvisorError {
      constructor() {
        super("forgotten", "nobody registered me");
      }
    }
    assert.equal(keepsItsClass(ForgottenError), false);
  });
});
