import { randomBytes } from "node:crypto";
import pg from "pg";

/** The PostgreSQL the tests use: CI and every machine of the project run one here (trust auth). */
export const TEST_POSTGRES_URL =
  process.env.SESSIONVISOR_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** The test database as a `--store` URL whose `?schema=` names `schema`. */
export function testStoreUrl(schema: string): string {
  const url = new URL(TEST_POSTGRES_URL);
  url.searchParams.set("schema", schema);
  return url.href;
}

let reachable: Promise<void> | undefined;

/** Resolves when the server answers; otherwise rejects with what is missing and how to start it. */
export function requirePostgres(): Promise<void> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 5000 });
    client.on("error", () => undefined);
    try {
      await client.connect();
      await client.query("SELECT 1");
    } catch (error) {
      throw new Error(
        `PostgreSQL is not reachable at ${TEST_POSTGRES_URL} (${(error as Error).message}): start it with ` +
          "`scripts/ci-services.sh` (or `pg_ctlcluster 15 main start`), or point SESSIONVISOR_TEST_POSTGRES_URL at one",
      );
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return reachable;
}

/**
 * Fresh schema names for one test file, and an admin connection (not the store's) to look at
 * the tables or kill the store's connections; `dropAll` removes every schema it handed out.
 */
export class TestSchemas {
  private readonly names: string[] = [];
  private admin: pg.Client | undefined;

  fresh(): string {
    const name = `svtest_${randomBytes(6).toString("hex")}`;
    this.names.push(name);
    return name;
  }

  async sql(text: string, values?: unknown[]): Promise<pg.QueryResult> {
    await requirePostgres();
    if (!this.admin) {
      this.admin = new pg.Client({
        connectionString: TEST_POSTGRES_URL,
        application_name: "sessionvisor-test-admin",
      });
      this.admin.on("error", () => undefined);
      await this.admin.connect();
    }
    return this.admin.query(text, values);
  }

  async dropAll(): Promise<void> {
    if (this.names.length > 0) {
      try {
        for (const name of this.names) await this.sql(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      } catch {
        // Unreachable: the tests failed and said so already.
      }
    }
    await this.admin?.end().catch(() => undefined);
    this.admin = undefined;
  }
}
