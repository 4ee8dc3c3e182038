import type { z } from "zod";
import { HttpError } from "./errors.js";

/** The first issue of a failed parse as an HttpError 400 naming its field (an unknown key: the key itself). */
export function issueError(error: z.ZodError, code = "invalid_request"): HttpError {
  const issue = error.issues[0];
  if (!issue) return new HttpError(400, code, "the request is invalid");
  const path = issue.path.map((part) => String(part));
  if (issue.code === "unrecognized_keys") {
    const field = [...path, issue.keys[0] ?? ""].join(".");
    return new HttpError(400, code, `${field} is not a known field`, field);
  }
  const field = path.join(".");
  return new HttpError(400, code, field ? `${field}: ${issue.message}` : issue.message, field || undefined);
}

/** Parses `input` with `schema`, or throws the first issue as an HttpError 400. */
export function parseWith<S extends z.ZodType>(
  schema: S,
  input: unknown,
  code = "invalid_request",
): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw issueError(parsed.error, code);
  return parsed.data;
}

/**
 * The query string as an object of strings; a parameter given twice is refused (a list would
 * be silently cut to one value otherwise).
 */
export function queryOf(url: string): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [key, value] of new URL(url).searchParams) {
    if (Object.hasOwn(query, key)) {
      throw new HttpError(400, "invalid_request", `query parameter ${key} is given twice`, key);
    }
    query[key] = value;
  }
  return query;
}

/**
 * The request's body as JSON, read up to `maxBytes` (a larger one is refused with 413 before it
 * is all read). An empty body is `undefined`; a body that is not `application/json` is 415, one
 * that is not UTF-8 JSON is 400 `invalid_json`.
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  const bytes = await readAtMost(request, maxBytes);
  if (bytes.length === 0) return undefined;
  const type = request.headers.get("content-type") ?? "";
  const mediaType = type.split(";")[0]?.trim().toLowerCase() ?? "";
  if (!(mediaType === "application/json" || /^application\/[a-z0-9.+-]*\+json$/.test(mediaType))) {
    throw new HttpError(
      415,
      "unsupported_media_type",
      "the body must be JSON, sent with Content-Type: application/json",
      "content-type",
    );
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "invalid_json", "the body is not UTF-8 text");
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, "invalid_json", `the body is not JSON: ${(error as Error).message}`);
  }
}

async function readAtMost(request: Request, maxBytes: number): Promise<Uint8Array> {
  const body = request.body;
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, "payload_too_large", `the body is larger than ${maxBytes} bytes`);
}
