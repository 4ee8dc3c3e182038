// Hostile arguments to every public SessionSystem call: each call either succeeds or fails with
// a SessionvisorError carrying a string `code` — never a TypeError, a RangeError or a hang — and
// the system keeps working: a session the fuzz never names still answers, its history unchanged.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { systemsForTests } from "../../test/support/sessions.js";
import { SessionvisorError } from "../runtime/index.js";
import { newSessionId } from "./session-id.js";

const start = systemsForTests();

function circular(): Record<string, unknown> {
  const value: Record<string, unknown> = { a: [1, { b: "c" }] };
  (value.a as unknown[]).push(value);
  value.self = value;
  return value;
}

function throwingGetter(): Record<string, unknown> {
  return Object.defineProperty({ fine: 1 }, "bad", {
    enumerable: true,
    get() {
      throw new Error("getter");
    },
  });
}

function trapsThatThrow<T extends object>(target: T): T {
  const fail = () => {
    throw new Error("trap");
  };
  return new Proxy(target, {
    get: fail,
    has: fail,
    ownKeys: fail,
    getPrototypeOf: fail,
    getOwnPropertyDescriptor: fail,
    apply: fail,
  });
}

function revoked(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

/** Turns into a string, a number or JSON by throwing. */
function unprintable(): object {
  const fail = () => {
    throw new Error("no printing");
  };
  return { [Symbol.toPrimitive]: fail, toString: fail, valueOf: fail, toJSON: fail };
}

const hugeString = "x".repeat(3_000_000);

/**
 * A hostile value made only when the call is made: fast-check itself reads the values it
 * generates, and a Proxy whose traps throw would break fast-check before it reached the system.
 */
class Make {
  constructor(
    readonly label: string,
    readonly make: () => unknown,
  ) {}

  [fc.toStringMethod](): string {
    return this.label;
  }
}

const made = (label: string, make: () => unknown) => fc.constant(new Make(label, make));

function materialize(value: unknown): unknown {
  return value instanceof Make ? value.make() : value;
}

const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({
    withBigInt: true,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withNullPrototype: true,
    withObjectString: true,
    withSparseArray: true,
    withTypedArray: true,
    maxDepth: 3,
  }),
  fc.constant(undefined),
  fc.constant(null),
  fc.bigInt(),
  fc.constant(hugeString),
  fc.constant(Symbol("fuzz")),
  fc.func(fc.anything()),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -1, 0, 2 ** 53),
  made("circular", circular),
  made("throwing getter", throwingGetter),
  made("object whose traps throw", () => trapsThatThrow({})),
  made("array whose traps throw", () => trapsThatThrow([])),
  made("function whose traps throw", () => trapsThatThrow(() => {})),
  made("revoked proxy", revoked),
  made("unprintable", unprintable),
  made("circular metadata", () => ({ metadata: circular() })),
  fc.record({ metadata: fc.constant({ n: 1n }) }),
  fc.record({ timeoutMs: fc.oneof(fc.double(), fc.constant(-5), fc.constant("10")) }),
);

/** What a call's arguments are drawn from: something hostile, or something close to valid. */
interface Shapes {
  id: fc.Arbitrary<unknown>;
  text: fc.Arbitrary<unknown>;
  path: fc.Arbitrary<unknown>;
  options: fc.Arbitrary<unknown>;
  fileOptions: fc.Arbitrary<unknown>;
  config: fc.Arbitrary<unknown>;
  document: fc.Arbitrary<unknown>;
  listener: fc.Arbitrary<unknown>;
  subscription: fc.Arbitrary<unknown>;
  callId: fc.Arbitrary<unknown>;
}

/** Every public call of the client API, with what each of its arguments is drawn from. */
function publicCalls(a: Shapes): Record<string, fc.Arbitrary<unknown>[]> {
  return {
    createSession: [a.config],
    terminateSession: [a.id],
    listSessions: [],
    getSession: [a.id],
    restoreSession: [a.id],
    exportSession: [a.id],
    importSession: [a.document],
    hibernateSession: [a.id],
    wakeSession: [a.id],
    sendMessage: [a.id, a.text, a.options],
    stream: [a.id, a.text, a.options],
    approveToolCall: [a.id, a.callId],
    cancelTurn: [a.id, a.text],
    denyToolCall: [a.id, a.callId, a.text],
    addFile: [a.id, a.path, a.fileOptions],
    removeFile: [a.id, a.path],
    getHistory: [a.id],
    getFiles: [a.id],
    findSupervisor: [a.id],
    getContextManagerPid: [a.id],
    getOrchestratorPid: [a.id],
    getLlmAgentPid: [a.id],
    managerPid: [],
    subscribe: [a.id, a.listener, a.options],
    subscribeAll: [a.listener],
    sessionHost: [a.id],
    listHosts: [],
    unsubscribe: [a.subscription],
  };
}

function describeValue(value: unknown): string {
  try {
    return fc.stringify(value).slice(0, 200);
  } catch {
    return typeof value;
  }
}

describe("SessionSystem under hostile arguments", () => {
  it("answers every public call with success or a typed SessionvisorError, and keeps working", {
    timeout: 120_000,
  }, async () => {
    const sys = await start();
    const witness = await sys.createSession({ name: "witness" });
    await sys.sendMessage(witness.id, "echo before the fuzz");
    await sys.addFile(witness.id, "/w.ts", { metadata: { k: 1 } });
    const witnessHistory = await sys.getHistory(witness.id);
    const witnessFiles = await sys.getFiles(witness.id);
    const target = await sys.createSession({ name: "target" });
    // A document whose session is gone, so that an import of it (or of a mangled copy) may succeed.
    const travelling = await sys.createSession({ name: "travelling" });
    await sys.sendMessage(travelling.id, "echo pack");
    await sys.addFile(travelling.id, "/p.ts", { metadata: { k: [1, "two"] } });
    const exported = JSON.parse(JSON.stringify(await sys.exportSession(travelling.id)));
    await sys.terminateSession(travelling.id);
    await sys.store.deleteSession(travelling.id);

    const near = <T>(valid: fc.Arbitrary<T>) => fc.oneof(valid, valid, hostile);
    const shapes: Shapes = {
      id: near(fc.constantFrom(target.id, travelling.id, newSessionId())),
      text: near(fc.constantFrom("echo hi", "   ", "x".repeat(100_001))),
      path: near(fc.constantFrom("/src/f.ts", "/t.ts", "", "a\0b")),
      options: near(
        fc.record(
          {
            timeoutMs: fc.integer({ min: 1, max: 10_000 }),
            // Made when drawn (fast-check may read them; a signal is safe to read).
            signal: fc.oneof(
              fc.constant(null).map(() => new AbortController().signal),
              fc.constant(null).map(() => AbortSignal.abort()),
              fc.constant(null).map(() => AbortSignal.timeout(1)),
              hostile,
            ),
          },
          { requiredKeys: [] },
        ),
      ),
      callId: near(fc.constantFrom("call_1", "", "x".repeat(600))),
      fileOptions: near(
        fc.record(
          { metadata: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })), content: fc.jsonValue() },
          { requiredKeys: [] },
        ),
      ),
      config: near(
        fc.record(
          {
            name: fc.string({ minLength: 1, maxLength: 5 }),
            metadata: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })),
          },
          { requiredKeys: [] },
        ),
      ),
      document: fc.oneof(
        fc.constant(exported),
        hostile,
        // An exported document with one field, anywhere in it, replaced by something hostile.
        fc
          .tuple(fc.nat(), hostile)
          .map(
            ([pick, value]) =>
              new Make(`exported document with field ${pick} set to ${describeValue(value)}`, () =>
                mangle(exported, pick, value),
              ),
          ),
      ),
      listener: near(fc.func(fc.anything())),
      subscription: near(made("a live subscription", () => sys.subscribeAll(() => {}))),
    };
    const calls = publicCalls(shapes);
    const invocation = fc
      .constantFrom(...Object.keys(calls))
      .chain((name) => fc.tuple(fc.constant(name), fc.tuple(...(calls[name] as fc.Arbitrary<unknown>[]))));
    const subscriptions: { unsubscribe(): void }[] = [];
    const method = (name: string) =>
      (sys as unknown as Record<string, (...args: unknown[]) => unknown>)[name] as (
        ...args: unknown[]
      ) => unknown;

    await fc.assert(
      fc.asyncProperty(invocation, async ([name, drawn]) => {
        // The target comes back after a call terminated it, so later calls reach a live session.
        if (!(await sys.getSession(target.id))) await sys.restoreSession(target.id).catch(() => {});
        const args = drawn.map(materialize);
        try {
          const result = await method(name).apply(sys, args);
          if (name === "subscribe" || name === "subscribeAll") subscriptions.push(result as never);
          if (name === "stream") for await (const _ of result as AsyncIterable<unknown>);
        } catch (error) {
          assert.ok(
            error instanceof SessionvisorError && typeof error.code === "string",
            `${name}(${drawn.map(describeValue).join(", ")}) threw ${describeValue(error)}`,
          );
        } finally {
          for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
        }
      }),
      { numRuns: 1000 },
    );

    assert.deepEqual(await sys.getHistory(witness.id), witnessHistory);
    assert.deepEqual(await sys.getFiles(witness.id), witnessFiles);
    assert.equal((await sys.sendMessage(witness.id, "echo after the fuzz")).text, "after the fuzz");
    const fresh = await sys.createSession({ name: "after" });
    assert.equal((await sys.sendMessage(fresh.id, "echo works")).text, "works");
  });
});

/** A deep copy of `document` with the `pick`-th value (depth first) replaced by `value`. */
function mangle(document: unknown, pick: number, value: unknown): unknown {
  const copy = structuredClone(document) as Record<string, unknown>;
  const slots: [Record<string, unknown>, string][] = [];
  const walk = (node: unknown) => {
    if (typeof node !== "object" || node === null) return;
    for (const key of Object.keys(node)) {
      slots.push([node as Record<string, unknown>, key]);
      walk((node as Record<string, unknown>)[key]);
    }
  };
  walk(copy);
  const slot = slots[pick % slots.length];
  if (slot) slot[0][slot[1]] = materialize(value);
  return copy;
}
