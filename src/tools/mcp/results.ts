import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

/** An MCP tool's answer as the model is shown it: JSON-able, text capped. */
export interface McpToolResult {
  /** The text parts, joined by blank lines (other parts described in brackets). */
  text: string;
  /** The server's structured result, when it gave one. */
  structured?: unknown;
  /** Set when `text` was cut at the output cap. */
  truncated?: { bytes: number; shownBytes: number };
}

/**
 * Turns a CallToolResult into plain JSON: text kept, images and audio described rather than
 * inlined (base64 is of no use to a text model and would fill its context), resources by URI
 * (with their text when embedded), the text cut at `maxBytes` with a marker.
 */
export function toToolResult(result: CallToolResult, maxBytes: number): McpToolResult {
  const parts: string[] = [];
  for (const part of result.content ?? []) {
    switch (part.type) {
      case "text":
        parts.push(part.text);
        break;
      case "image":
      case "audio":
        parts.push(
          `[${part.type} ${part.mimeType}, ${Math.floor((part.data.length * 3) / 4)} bytes, not shown]`,
        );
        break;
      case "resource":
        parts.push(
          "text" in part.resource
            ? `[resource ${part.resource.uri}]\n${part.resource.text}`
            : `[resource ${part.resource.uri}, binary, not shown]`,
        );
        break;
      case "resource_link":
        parts.push(`[resource link ${part.uri}${part.name ? ` (${part.name})` : ""}]`);
        break;
      default:
        parts.push(`[${(part as { type: string }).type} content, not shown]`);
    }
  }
  const all = parts.join("\n\n");
  const answer: McpToolResult = { text: all };
  const bytes = Buffer.byteLength(all);
  if (bytes > maxBytes) {
    // Cut on a character boundary: decoding the first maxBytes drops a split last character.
    const shown = Buffer.from(all)
      .subarray(0, maxBytes)
      .toString("utf8")
      .replace(/\uFFFD$/, "");
    answer.text = `${shown}\n[truncated: ${Buffer.byteLength(shown)} of ${bytes} bytes shown]`;
    answer.truncated = { bytes, shownBytes: Buffer.byteLength(shown) };
  }
  if (result.structuredContent !== undefined) answer.structured = result.structuredContent;
  return answer;
}
