import { InvalidArgumentError } from "../errors.js";

/** A PostgreSQL store named by a URL: where it is, and the schema its tables are in. */
export interface PostgresStoreUrl {
  /** The URL without the `schema` parameter (pg would pass it to the server as an option). */
  connectionString: string;
  schema?: string;
}

/**
 * `--store`'s value: a `postgres://` or `postgresql://` URL, with an optional `?schema=` naming
 * the schema the store's tables are kept in (default `sessionvisor`). Anything else is an
 * InvalidArgumentError naming `store`.
 */
export function parseStoreUrl(text: string): PostgresStoreUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError("store", `must be a postgres:// URL, not ${JSON.stringify(text)}`);
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new InvalidArgumentError("store", `must be a postgres:// URL, not a ${url.protocol}// one`);
  }
  const schema = url.searchParams.get("schema") ?? undefined;
  url.searchParams.delete("schema");
  return { connectionString: url.href, ...(schema === undefined ? {} : { schema }) };
}
