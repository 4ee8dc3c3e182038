// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are the ${NAME} reference syntax under test.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { McpServerStartError } from "./errors.js";
import { expandReferences, literalSecrets } from "./references.js";

describe("secret references in an MCP server's env and headers", () => {
  it("replaces ${NAME} with the variable's value when the server starts", () => {
    const env = { GH: "ghp_abc", HOST: "example" };
    assert.deepEqual(
      expandReferences("s", "headers", { authorization: "Bearer ${GH}", "x-host": "${HOST}.com" }, env),
      { authorization: "Bearer ghp_abc", "x-host": "example.com" },
    );
  });

  it("fails the start naming a variable that is not set", () => {
    assert.throws(
      () => expandReferences("gh", "env", { GITHUB_TOKEN: "${MISSING_ONE}" }, {}),
      (e: unknown) =>
        e instanceof McpServerStartError && /env.GITHUB_TOKEN refers to \$\{MISSING_ONE\}/.test(e.message),
    );
  });

  it("finds literal secrets by variable name, header name and key shape", () => {
    assert.deepEqual(
      literalSecrets({
        env: { GITHUB_TOKEN: "abc", DEBUG: "1", OTHER: "sk-live123" },
        headers: { authorization: "Bearer abc", accept: "application/json" },
      }),
      ["env.GITHUB_TOKEN", "env.OTHER", "headers.authorization"],
    );
  });

  it("accepts references in place of secrets", () => {
    assert.deepEqual(
      literalSecrets({
        env: { GITHUB_TOKEN: "${GITHUB_TOKEN}" },
        headers: { authorization: "Bearer ${TOKEN}" },
      }),
      [],
    );
  });
});
