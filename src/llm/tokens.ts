/**
 * A provider-independent token estimate: about four characters per token for English and
 * code, which is what the common BPE tokenizers average. Used for context budgets, where a
 * consistent estimate matters more than an exact count.
 */
export function estimateTokens(text: string): number {
  if (text.length === 0) return 0;
  return Math.ceil(text.length / 4);
}
