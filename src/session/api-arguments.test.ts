// Bad arguments to the client API are typed errors naming the argument, never a TypeError from
// somewhere inside, and they change nothing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { systemsForTests } from "../../test/support/sessions.js";
import { InvalidArgumentError } from "../runtime/index.js";
import { MAX_FILE_CONTENT_LENGTH } from "./api-arguments.js";
import { MAX_METADATA_LENGTH } from "./config.js";
import { SessionConfigError } from "./errors.js";
import { SessionSystem } from "./session-system.js";

const start = systemsForTests();
const T = { timeout: 30_000 };

function circular(): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  value.self = value;
  return value;
}

function throwing(): Record<string, unknown> {
  return Object.defineProperty({}, "bad", {
    enumerable: true,
    get() {
      throw new Error("getter");
    },
  });
}

function invalidArgument(argument: string) {
  return (error: unknown) => {
    assert.ok(error instanceof InvalidArgumentError, String(error));
    assert.equal(error.argument, argument, error.message);
    return true;
  };
}

describe("client API arguments", () => {
  it("refuses circular or throwing-getter metadata of a new session as a SessionConfigError", T, async () => {
    const sys = await start();
    for (const [metadata, field] of [
      [circular(), "metadata.self"],
      [throwing(), "metadata.bad"],
    ] as const) {
      await assert.rejects(
        sys.createSession({ metadata }),
        (e: unknown) => e instanceof SessionConfigError && e.field === field,
      );
    }
    assert.deepEqual(await sys.listSessions(), []);
  });

  it(
    "refuses file metadata holding a BigInt, a cycle or a throwing getter, and keeps the file index",
    T,
    async () => {
      const sys = await start();
      const { id } = await sys.createSession();
      await sys.addFile(id, "/a.ts", { metadata: { lang: "ts" } });
      const before = await sys.getFiles(id);
      await assert.rejects(sys.addFile(id, "/a.ts", { metadata: { n: 1n } }), invalidArgument("metadata.n"));
      await assert.rejects(
        sys.addFile(id, "/b.ts", { metadata: circular() }),
        invalidArgument("metadata.self"),
      );
      await assert.rejects(
        sys.addFile(id, "/b.ts", { metadata: throwing() }),
        invalidArgument("metadata.bad"),
      );
      await assert.rejects(sys.addFile(id, "/b.ts", { content: { n: 1n } }), invalidArgument("content.n"));
      await assert.rejects(sys.addFile(id, "/b.ts", null as never), invalidArgument("options"));
      assert.deepEqual(await sys.getFiles(id), before);
    },
  );

  it("refuses file metadata and content over their size limits", T, async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    const metadata = { text: "x".repeat(MAX_METADATA_LENGTH) };
    await assert.rejects(sys.addFile(id, "/a.ts", { metadata }), invalidArgument("metadata.text"));
    const content = "x".repeat(MAX_FILE_CONTENT_LENGTH);
    await assert.rejects(sys.addFile(id, "/a.ts", { content }), invalidArgument("content"));
    assert.deepEqual((await sys.getFiles(id)).active, []);
    await sys.addFile(id, "/a.ts", { content: "x".repeat(MAX_FILE_CONTENT_LENGTH - 2) });
    assert.deepEqual((await sys.getFiles(id)).active, ["/a.ts"]);
  });

  it(
    "refuses sendMessage options that are not an object, or a timeout that is not a number of ms",
    T,
    async () => {
      const sys = await start();
      const { id } = await sys.createSession();
      await assert.rejects(sys.sendMessage(id, "hi", null as never), invalidArgument("options"));
      await assert.rejects(
        sys.sendMessage(id, "hi", { timeoutMs: "5" as never }),
        invalidArgument("options.timeoutMs"),
      );
      await assert.rejects(
        sys.sendMessage(id, "hi", { timeoutMs: Number.NaN }),
        invalidArgument("options.timeoutMs"),
      );
      await assert.rejects(sys.sendMessage(id, 5 as never), invalidArgument("message"));
      assert.deepEqual(await sys.getHistory(id), []);
    },
  );

  it("refuses a file path that is not one when removing a file", T, async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    await assert.rejects(sys.removeFile(id, Symbol("p") as never), invalidArgument("path"));
  });

  it("refuses a listener that is not a function and a subscription that is not one", T, async () => {
    const sys = await start();
    assert.throws(() => sys.subscribeAll(5 as never), invalidArgument("listener"));
    assert.throws(() => sys.unsubscribe(null as never), invalidArgument("subscription"));
    assert.throws(() => sys.unsubscribe({} as never), invalidArgument("subscription"));
  });

  it("refuses start options that are not an object, or cannot be read", T, async () => {
    const unreadable = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error("trap");
        },
      },
    );
    for (const options of [null, 5, unreadable]) {
      const started = SessionSystem.start(options as never);
      // Stopped, should it start after all, so that a failing test leaks nothing.
      started.then((sys) => sys.stop()).catch(() => {});
      await assert.rejects(started, invalidArgument("options"));
    }
  });
});
