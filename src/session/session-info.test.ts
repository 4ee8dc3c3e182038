import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseSessionConfig } from "./config.js";
import { SessionConfigError } from "./errors.js";
import { newSessionId } from "./session-id.js";
import { type SessionInfo, sessionInfoFromJSON, sessionInfoToJSON } from "./session-info.js";
import { SESSION_STATUSES } from "./status.js";

const date = fc.date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true });
const infoArb: fc.Arbitrary<SessionInfo> = fc
  .record({
    id: fc.constant(newSessionId()),
    name: fc.option(fc.string({ minLength: 1, maxLength: 20 }), { nil: undefined }),
    projectPath: fc.option(fc.constantFrom("/work/a", "/tmp/b c"), { nil: undefined }),
    status: fc.constantFrom(...SESSION_STATUSES),
    previousStatus: fc.option(fc.constantFrom(...SESSION_STATUSES), { nil: undefined }),
    metadata: fc
      .dictionary(
        fc.string({ maxLength: 8 }),
        fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)),
      )
      .map((metadata) => ({ ...metadata })),
    llm: fc.constant(parseSessionConfig({}).llm),
    limits: fc.constant(parseSessionConfig({}).limits),
    createdAt: date,
    updatedAt: date,
    statusChangedAt: date,
    restarts: fc.nat(),
    hibernated: fc.boolean(),
    usage: fc.record({ inputTokens: fc.nat(), outputTokens: fc.nat() }).map((usage) => ({ ...usage })),
  })
  .map((info) => ({ ...info }));

describe("session info JSON", () => {
  it("round-trips exactly, timestamps included", () => {
    fc.assert(
      fc.property(infoArb, (info) => {
        const back = sessionInfoFromJSON(JSON.parse(JSON.stringify(sessionInfoToJSON(info))));
        assert.deepEqual(back, info);
      }),
    );
  });

  it("uses ISO-8601 timestamps and string keys", () => {
    const at = new Date("2026-11-24T10:00:00.000Z");
    const [info] = fc.sample(infoArb, 1) as [SessionInfo];
    const json = sessionInfoToJSON({ ...info, createdAt: at });
    assert.equal(json.createdAt, "2026-11-24T10:00:00.000Z");
  });

  it("names the bad field of a malformed record", () => {
    const [info] = fc.sample(infoArb, 1) as [SessionInfo];
    const json = { ...sessionInfoToJSON(info), status: "sleeping" };
    assert.throws(
      () => sessionInfoFromJSON(json),
      (e: unknown) => e instanceof SessionConfigError && e.field === "status",
    );
  });
});
