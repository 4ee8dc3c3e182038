import { estimateTokens } from "./tokens.js";

/** Counts tokens the way one model family does, or estimates them (`exact: false`). */
export interface TokenCounter {
  /** `estimate`, or the encoding's name (`o200k_base`, `cl100k_base`). */
  readonly name: string;
  /** False for the four-characters-a-token estimate. */
  readonly exact: boolean;
  count(text: string): number;
}

/** What `llm.tokenizer` may name: `auto` picks by provider and model. */
export const TOKENIZERS = ["auto", "estimate", "o200k_base", "cl100k_base"] as const;
export type TokenizerChoice = (typeof TOKENIZERS)[number];

export const ESTIMATE: TokenCounter = Object.freeze({
  name: "estimate",
  exact: false,
  count: estimateTokens,
});

/**
 * The OpenAI encoding a model is known to use, by its name: `o200k_base` for the GPT-4o, 4.1
 * and 5 families and the o-series, `cl100k_base` for GPT-4 and GPT-3.5. Anthropic publishes no
 * tokenizer, and an OpenAI-compatible server's model (Llama, Qwen, …) has its own, so those
 * are estimated.
 */
export function encodingFor(provider: string, model: string): "o200k_base" | "cl100k_base" | undefined {
  if (provider !== "openai" && provider !== "openai-compatible") return undefined;
  const name = model.toLowerCase().replace(/^openai\//, "");
  if (/^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|chatgpt-4o|o1|o3|o4)/.test(name)) return "o200k_base";
  if (/^(gpt-4|gpt-3\.5)/.test(name)) return "cl100k_base";
  return undefined;
}

const loaded = new Map<string, Promise<TokenCounter>>();

/**
 * The counter for a session's model. An encoding's tables are loaded on first use, once per
 * process or worker thread (about 200 ms and 35 MB of heap), so sessions that are estimated —
 * the offline model's among them — never load them. An estimate is returned as it is, not in a
 * promise, so a session start that needs none waits for nothing.
 */
export function tokenCounterFor(
  choice: TokenizerChoice,
  provider: string,
  model: string,
): TokenCounter | Promise<TokenCounter> {
  const encoding =
    choice === "auto" ? encodingFor(provider, model) : choice === "estimate" ? undefined : choice;
  if (encoding === undefined) return ESTIMATE;
  let counter = loaded.get(encoding);
  if (!counter) {
    counter = load(encoding);
    loaded.set(encoding, counter);
    // A failed load (a broken install) is tried again by the next session, not cached.
    counter.catch(() => loaded.delete(encoding));
  }
  return counter;
}

async function load(encoding: "o200k_base" | "cl100k_base"): Promise<TokenCounter> {
  const module: { countTokens(text: string, options: { disallowedSpecial: Set<string> }): number } =
    encoding === "o200k_base"
      ? await import("gpt-tokenizer/encoding/o200k_base")
      : await import("gpt-tokenizer/encoding/cl100k_base");
  const { countTokens } = module;
  // A user may type `<|endoftext|>`: counted as the text it is, never a reason to throw.
  const options = { disallowedSpecial: new Set<string>() };
  return Object.freeze({ name: encoding, exact: true, count: (text: string) => countTokens(text, options) });
}
