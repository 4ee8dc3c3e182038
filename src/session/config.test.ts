// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the ${NAME} reference syntax is under test here.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSessionConfig, SessionConfigSchema } from "./config.js";
import { SessionConfigError } from "./errors.js";

function fieldOf(input: unknown, options?: { providers?: string[] }): string | undefined {
  try {
    parseSessionConfig(input, options);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof SessionConfigError);
    return error.field;
  }
}

describe("session config", () => {
  it("fills defaults for an empty config", () => {
    const config = parseSessionConfig({});
    assert.equal(config.llm.provider, "offline");
    assert.equal(config.limits.maxHistory, 100);
    assert.deepEqual(config.metadata, {});
  });

  it("names the bad field in the error", () => {
    assert.equal(fieldOf({ llm: { temperature: 3 } }), "llm.temperature");
    assert.equal(fieldOf({ llm: { maxTokens: 0 } }), "llm.maxTokens");
    assert.equal(fieldOf({ llm: { maxTokens: 1.5 } }), "llm.maxTokens");
    assert.equal(fieldOf({ limits: { maxHistory: 0 } }), "limits.maxHistory");
    assert.equal(fieldOf({ projectPath: "relative/path" }), "projectPath");
    assert.equal(fieldOf({ name: "" }), "name");
  });

  it("takes an http or https baseURL for the model backend and names a bad one", () => {
    assert.equal(
      parseSessionConfig({ llm: { baseURL: "http://127.0.0.1:11434/v1" } }).llm.baseURL,
      "http://127.0.0.1:11434/v1",
    );
    assert.equal(fieldOf({ llm: { baseURL: "file:///etc/passwd" } }), "llm.baseURL");
    assert.equal(fieldOf({ llm: { baseURL: "not a url" } }), "llm.baseURL");
  });

  it("rejects unknown keys so that a typo does not pass silently", () => {
    assert.match(String(fieldOf({ llm: { temprature: 0.5 } })), /llm/);
    assert.ok(fieldOf({ maxHistroy: 5 }));
  });

  it("names an unknown key itself as the field, not the object holding it", () => {
    assert.equal(fieldOf({ maxHistroy: 5 }), "maxHistroy");
    assert.equal(fieldOf({ llm: { temprature: 0.5 } }), "llm.temprature");
  });

  it("names the metadata key of a circular value, of a getter that throws and of a BigInt", () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const throwing = {
      get secret(): string {
        throw new Error("no");
      },
    };
    assert.equal(fieldOf({ metadata: { nested: circular } }), "metadata.nested.self");
    assert.equal(fieldOf({ metadata: throwing }), "metadata.secret");
    assert.equal(fieldOf({ metadata: { n: 1n } }), "metadata.n");
    assert.equal(fieldOf({ llm: throwing }), "llm.secret");
  });

  it("refuses a value that is not a config object as (config)", () => {
    assert.equal(fieldOf(5), "(config)");
    assert.equal(fieldOf("x"), "(config)");
    assert.equal(
      fieldOf(
        new Proxy(
          {},
          {
            ownKeys: () => {
              throw new Error("trap");
            },
          },
        ),
      ),
      "(config)",
    );
  });

  it("rejects a provider that is not registered, naming the known ones", () => {
    assert.throws(
      () => parseSessionConfig({ llm: { provider: "gpt" } }, { providers: ["offline"] }),
      /known: offline/,
    );
  });

  it("rejects metadata that is not JSON", () => {
    assert.equal(fieldOf({ metadata: { when: new Date() } }), "metadata.when");
  });
});

describe("secrets in mcpServers", () => {
  it("refuses a literal token in a server's headers, naming the field", () => {
    assert.throws(
      () =>
        parseSessionConfig({
          mcpServers: [
            { name: "web", url: "https://example.com/mcp", headers: { authorization: "Bearer abc123" } },
          ],
        }),
      (e: unknown) => (e as { field?: string }).field === "mcpServers.0.headers.authorization",
    );
  });

  it("accepts a ${NAME} reference in its place", () => {
    const config = parseSessionConfig({
      mcpServers: [{ name: "gh", command: "gh-mcp", env: { GITHUB_TOKEN: "${GITHUB_TOKEN}" } }],
    });
    assert.equal(config.mcpServers[0]?.env.GITHUB_TOKEN, "${GITHUB_TOKEN}");
  });
});

describe("session config: an empty config (defaults parsed once)", () => {
  it("is the schema's own parse of {}, field for field and in the same key order", () => {
    const expected = JSON.stringify(SessionConfigSchema.parse({}));
    assert.equal(JSON.stringify(parseSessionConfig({})), expected);
    assert.equal(JSON.stringify(parseSessionConfig(undefined)), expected);
    assert.equal(JSON.stringify(parseSessionConfig(null)), expected);
    assert.equal(JSON.stringify(parseSessionConfig(Object.create(null))), expected);
    assert.equal(
      JSON.stringify(parseSessionConfig(Object.defineProperty({}, "llm", { value: 1 }))),
      expected,
    );
  });

  it("is a new object graph each time: changing one config changes no other", () => {
    const first = parseSessionConfig({});
    first.llm.model = "changed";
    first.limits.maxHistory = 1;
    first.tools.approval.command = "deny";
    first.mcpServers.push({ name: "x", command: "x", args: [], env: {} } as never);
    (first.metadata as Record<string, unknown>).key = "value";
    const second = parseSessionConfig({});
    assert.deepEqual(second, SessionConfigSchema.parse({}));
    assert.notEqual(second.llm, first.llm);
    assert.notEqual(second.tools.approval, first.tools.approval);
    assert.notEqual(second.mcpServers, first.mcpServers);
  });

  it("is refused when the default provider is not among the providers, as any config", () => {
    assert.equal(fieldOf({}, { providers: ["other"] }), "llm.provider");
  });

  it("is accepted again without a copy once parsed (it is marked validated)", () => {
    const config = parseSessionConfig({});
    assert.equal(parseSessionConfig(config), config);
  });
});
