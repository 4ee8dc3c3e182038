import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ESTIMATE, encodingFor, tokenCounterFor } from "./tokenizer.js";

const T = { timeout: 20_000 };

describe("token counters", () => {
  it("picks o200k_base for the GPT-4o, 4.1, 5 and o-series models", () => {
    for (const model of ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-5", "o3-mini", "openai/gpt-4o"])
      assert.equal(encodingFor("openai", model), "o200k_base", model);
  });

  it("picks cl100k_base for GPT-4 and GPT-3.5", () => {
    assert.equal(encodingFor("openai", "gpt-4-turbo"), "cl100k_base");
    assert.equal(encodingFor("openai-compatible", "gpt-3.5-turbo"), "cl100k_base");
  });

  it("estimates for Anthropic, other servers' models and the offline model", () => {
    assert.equal(encodingFor("anthropic", "claude-sonnet-4"), undefined);
    assert.equal(encodingFor("openai-compatible", "qwen2.5-coder"), undefined);
    assert.equal(tokenCounterFor("auto", "offline", "offline-1"), ESTIMATE);
  });

  it("hands out the estimate at once, not in a promise", () => {
    assert.equal(tokenCounterFor("estimate", "openai", "gpt-4o"), ESTIMATE);
  });

  it("counts with the model's encoding, exactly", T, async () => {
    const counter = await tokenCounterFor("auto", "openai", "gpt-4o");
    assert.equal(counter.name, "o200k_base");
    assert.equal(counter.exact, true);
    assert.equal(counter.count("Hello world"), 2);
  });

  it("counts a special token typed as text instead of throwing", T, async () => {
    const counter = await tokenCounterFor("cl100k_base", "offline", "x");
    assert.ok(counter.count("hi <|endoftext|> there") > 3);
  });
});
