import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UnsupportedKeyModeError } from "../registry/index.js";
import { CallTimeoutError, Pid, Ref } from "../runtime/index.js";
import { ChildRestartingError } from "../supervision/index.js";
import { UnsendableMessageError } from "./errors.js";
import { HostDownError } from "./host-down.js";
import { decodeTerm, encodeTerm, registerRevivableError } from "./term-codec.js";

/** What arrives on the other side: encoded, structured-cloned, decoded. */
function across(value: unknown): unknown {
  return decodeTerm(structuredClone(encodeTerm(value)));
}

describe("term codec", () => {
  it("keeps pids and refs as Pid and Ref instances", () => {
    const out = across({ pid: new Pid("n1-h2", 7), refs: [new Ref("n1", 3)] }) as { pid: Pid; refs: Ref[] };
    assert.ok(out.pid instanceof Pid && out.pid.equals(new Pid("n1-h2", 7)));
    assert.ok(out.refs[0] instanceof Ref);
  });

  it("keeps the class, message and own fields of registered errors", () => {
    const out = across(new HostDownError("n1-h1", "thread", "hang", { message: "silent" }));
    assert.ok(out instanceof HostDownError);
    assert.equal(out.how, "hang");
    assert.equal(out.code, "host_down");
    assert.match(out.message, /died: hang/);
  });

  it("keeps runtime errors such as CallTimeoutError", () => {
    assert.ok(across(new CallTimeoutError("<n.1>", 50)) instanceof CallTimeoutError);
  });

  it("keeps a supervisor's ChildRestartingError and the registry's UnsupportedKeyModeError", () => {
    const restarting = across(new ChildRestartingError("db"));
    assert.ok(restarting instanceof ChildRestartingError);
    assert.equal(restarting.childId, "db");
    const mode = across(new UnsupportedKeyModeError("updateValue", "duplicate", "many owners"));
    assert.ok(mode instanceof UnsupportedKeyModeError);
  });

  it("revives an error class registered by the program", () => {
    class QuotaError extends Error {
      override name = "QuotaError";
    }
    registerRevivableError(QuotaError);
    assert.ok(across(new QuotaError("over")) instanceof QuotaError);
  });

  it("keeps Maps, Sets and Dates, with pids inside them", () => {
    const out = across(new Map([["a", new Set([new Pid("n", 1)])]])) as Map<string, Set<Pid>>;
    assert.ok([...(out.get("a") ?? [])][0] instanceof Pid);
    assert.ok((across({ at: new Date(0) }) as { at: Date }).at instanceof Date);
  });

  it("refuses a function and names where it was", () => {
    assert.throws(
      () => encodeTerm({ a: [1, { f: () => 1 }] }),
      (error: unknown) => {
        assert.ok(error instanceof UnsendableMessageError);
        assert.equal(error.path, "message.a[1].f");
        return true;
      },
    );
  });

  it("refuses an instance of a class that would arrive as a plain object", () => {
    class Session {}
    assert.throws(() => encodeTerm({ session: new Session() }), /message.session is an instance of Session/);
  });

  it("returns plain data unchanged, without copying it", () => {
    const plain = { a: [1, "two", { three: true }] };
    assert.equal(encodeTerm(plain), plain);
  });
});
