import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { systemsForTests } from "../../test/support/sessions.js";
import { InvalidArgumentError } from "../runtime/index.js";
import { InvalidSessionIdError } from "./errors.js";

const start = systemsForTests();

describe("session errors", () => {
  it("refuses a bad id with one InvalidSessionIdError class in the client API and in the store", async () => {
    const sys = await start();
    const fromApi = await sys.getSession("../etc").catch((error: unknown) => error);
    const fromStore = await sys.store.getSession("../etc").catch((error: unknown) => error);
    for (const error of [fromApi, fromStore]) {
      assert.ok(error instanceof InvalidSessionIdError, String(error));
      assert.equal(error.code, "invalid_session_id");
      assert.equal(error instanceof InvalidArgumentError, false);
    }
  });
});
