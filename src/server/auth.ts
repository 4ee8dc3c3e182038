import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { InvalidArgumentError } from "../errors.js";
import { HttpError } from "./errors.js";

/** One accepted bearer token: whose it is, and the SHA-256 of the token (hex); the token itself is never kept. */
export interface TokenEntry {
  owner: string;
  sha256: string;
}

/** The owner of every session when no tokens are configured (only on a loopback address). */
export const IMPLICIT_OWNER = "local";

/** The environment variable read for tokens when no tokens file is given (same JSON as the file). */
export const TOKENS_ENV = "SESSIONVISOR_TOKENS";

/** An owner's name, as tokens give it and session configs keep it. */
export const OwnerNameSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._@-]+$/, "must be letters, digits and . _ @ -");

const TokenEntriesSchema = z
  .array(
    z
      .object({
        owner: OwnerNameSchema,
        sha256: z
          .string()
          .regex(/^[0-9a-fA-F]{64}$/, "must be the SHA-256 of the token, 64 hex digits")
          .transform((hex) => hex.toLowerCase()),
      })
      .strict(),
  )
  .max(100_000);

/**
 * Checks a tokens list (`[{ "owner": "alice", "sha256": "<hex>" }]`); a bad one is an
 * InvalidArgumentError naming `source` and the entry's field. The same hash given twice is refused.
 */
export function parseTokens(input: unknown, source = "tokens"): TokenEntry[] {
  const parsed = TokenEntriesSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.map(String).join(".") ?? "";
    throw new InvalidArgumentError(
      path ? `${source}.${path}` : source,
      `${issue?.message ?? "is invalid"} (expected [{ "owner": "alice", "sha256": "<hex of the token>" }])`,
    );
  }
  const seen = new Set<string>();
  for (const [i, entry] of parsed.data.entries()) {
    if (seen.has(entry.sha256)) throw new InvalidArgumentError(`${source}.${i}.sha256`, "is given twice");
    seen.add(entry.sha256);
  }
  return parsed.data;
}

/**
 * The tokens of a JSON file if `file` is given, else of the SESSIONVISOR_TOKENS environment
 * variable if it is set, else undefined (no auth: loopback only).
 */
export function loadTokens(
  options: { file?: string | undefined; env?: NodeJS.ProcessEnv } = {},
): TokenEntry[] | undefined {
  const { file, env = process.env } = options;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new InvalidArgumentError("tokens", `cannot read ${file}: ${(error as Error).message}`);
    }
    return parseTokens(parseJson(text, file), file);
  }
  const fromEnv = env[TOKENS_ENV];
  if (fromEnv === undefined || fromEnv === "") return undefined;
  return parseTokens(parseJson(fromEnv, TOKENS_ENV), TOKENS_ENV);
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(source, `is not JSON: ${(error as Error).message}`);
  }
}

/** The hex SHA-256 of a token, as a tokens file keeps it. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A new random bearer token (256 bits, `svt_` then base64url). */
export function newToken(): string {
  return `svt_${randomBytes(32).toString("base64url")}`;
}

/** Who a request comes from: the owner of its bearer token, or the implicit owner when there are no tokens. */
export class Auth {
  private readonly owners: Map<string, string> | undefined;

  constructor(tokens: readonly TokenEntry[] | undefined) {
    this.owners =
      tokens === undefined || tokens.length === 0
        ? undefined
        : new Map(parseTokens(tokens).map((entry) => [entry.sha256, entry.owner]));
  }

  /** No tokens configured: every request is the implicit owner's, who sees every session. */
  get implicit(): boolean {
    return this.owners === undefined;
  }

  /** The request's owner; HttpError 401 `unauthorized` without a known bearer token. */
  ownerOf(authorization: string | undefined): string {
    if (this.owners === undefined) return IMPLICIT_OWNER;
    const match = authorization === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (match === null) {
      throw new HttpError(401, "unauthorized", "a bearer token is required (Authorization: Bearer <token>)");
    }
    // Looked up by its hash: the table holds no token, and a lookup costs the same whatever the token.
    const owner = this.owners.get(hashToken(match[1] as string));
    if (owner === undefined) throw new HttpError(401, "unauthorized", "the bearer token is not known");
    return owner;
  }
}
