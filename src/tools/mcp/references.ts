import { secretLooking } from "../environment.js";
import { McpServerStartError } from "./errors.js";

/** `${NAME}`: a value taken from the environment when the server starts. */
const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Header names that carry credentials, whatever their value looks like. */
const SECRET_HEADER = /^(authorization|proxy-authorization|cookie|x-api-key|api-key|x-auth-token)$/i;

/**
 * `values` with every `${NAME}` replaced by the variable's value in `env`: how a server's token
 * reaches it without being written into a config that is stored. A variable that is not set
 * fails the start, naming it.
 */
export function expandReferences(
  server: string,
  field: "env" | "headers",
  values: Readonly<Record<string, string>>,
  env: NodeJS.ProcessEnv,
): Record<string, string> {
  const expanded: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    expanded[key] = value.replace(REFERENCE, (_, name: string) => {
      const found = env[name];
      if (found === undefined)
        throw new McpServerStartError(server, `${field}.${key} refers to \${${name}}, which is not set`);
      return found;
    });
  }
  return expanded;
}

/**
 * The `env` and `headers` entries of a config that hold a literal secret (a credential's name,
 * a credential header, or a value shaped like a known key) rather than a `${NAME}` reference,
 * as `env.GITHUB_TOKEN` / `headers.authorization`.
 */
export function literalSecrets(config: {
  env?: Readonly<Record<string, string>> | undefined;
  headers?: Readonly<Record<string, string>> | undefined;
}): string[] {
  const found: string[] = [];
  const literal = (value: string) => value.replace(REFERENCE, "").trim().length > 0;
  for (const [name, value] of Object.entries(config.env ?? {})) {
    if (literal(value) && (secretLooking(name, value) || looksLikeKey(value))) found.push(`env.${name}`);
  }
  for (const [name, value] of Object.entries(config.headers ?? {})) {
    // `Bearer ${TOKEN}` is a reference: only what is left once references are taken out counts.
    const rest = value.replace(REFERENCE, "").replace(/^(bearer|basic|token)\s*/i, "");
    if (rest.trim().length > 0 && (SECRET_HEADER.test(name) || looksLikeKey(value)))
      found.push(`headers.${name}`);
  }
  return found;
}

function looksLikeKey(value: string): boolean {
  return secretLooking("", value);
}
