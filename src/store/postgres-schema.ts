import type pg from "pg";
import { StoreCorruptError, StoreVersionError } from "./errors.js";

/**
 * One migration: SQL run in one transaction with the schema's tables named through `t`. Schema
 * version n is reached by running the first n migrations, each committed with its version row.
 */
type Migration = (t: (table: string) => string) => string;

/** The SQLSTATE claim_fences fails with when a stored fence is higher than the write's. */
export const STALE_FENCE_STATE = "SV001";

const MIGRATIONS: readonly Migration[] = [
  // 1: what SQLite's schema version 3 holds (records, conversations turn by turn, the event
  // log, the store's state) and each session's highest fence. Text, not jsonb: stored values
  // come back exactly as written, and jsonb cannot hold a "\u0000" in a string.
  (t) => `
    CREATE TABLE ${t("sessions")} (
      id text PRIMARY KEY,
      record text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      -- listSessions answers in the order sessions were first stored.
      created bigint GENERATED ALWAYS AS IDENTITY
    );
    CREATE TABLE ${t("conversations")} (
      id text PRIMARY KEY,
      head text NOT NULL,
      turn_by_turn boolean NOT NULL
    );
    CREATE TABLE ${t("conversation_turns")} (
      session_id text NOT NULL,
      seq bigint NOT NULL,
      turn_id text,
      turn text NOT NULL,
      PRIMARY KEY (session_id, seq)
    );
    CREATE INDEX ON ${t("conversation_turns")} (session_id, turn_id, seq);
    CREATE TABLE ${t("session_events")} (
      session_id text NOT NULL,
      seq bigint NOT NULL,
      event text NOT NULL,
      PRIMARY KEY (session_id, seq)
    );
    CREATE TABLE ${t("store_state")} (
      key text PRIMARY KEY,
      value text NOT NULL
    );
    -- Kept when a session is deleted: a fence never goes back, whatever happened to the session.
    CREATE TABLE ${t("session_fences")} (
      id text PRIMARY KEY,
      fence bigint NOT NULL
    );
    -- Raises each session's fence to the write's and locks its row until the commit (ON
    -- CONFLICT DO UPDATE locks the row even when its WHERE leaves it as it is), or fails when a
    -- stored fence is higher: failing, not answering, lets a pipelined transaction send its
    -- writes and COMMIT at once — after a failure the server rolls the transaction back.
    CREATE FUNCTION ${t("claim_fences")}(ids text[], fences bigint[]) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
      stale record;
    BEGIN
      INSERT INTO ${t("session_fences")} AS f (id, fence)
      SELECT n.id, n.fence FROM unnest(ids, fences) AS n(id, fence) ORDER BY n.id
      ON CONFLICT (id) DO UPDATE SET fence = excluded.fence WHERE f.fence < excluded.fence;
      SELECT n.id, n.fence, f.fence AS current INTO stale
      FROM unnest(ids, fences) AS n(id, fence) JOIN ${t("session_fences")} AS f ON f.id = n.id
      WHERE f.fence > n.fence ORDER BY n.id LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION 'stale fence for session %', stale.id USING
          ERRCODE = '${STALE_FENCE_STATE}',
          DETAIL = json_build_object('sessionId', stale.id, 'fence', stale.fence, 'current', stale.current)::text;
      END IF;
    END $$;
  `,
];

export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length;

/** Quotes a name validated by the options (letters, digits, `_`): safe as an SQL identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name}"`;
}

/**
 * Brings the schema to the version this code knows, creating it when missing. Several stores
 * (nodes of a cluster) may open the same schema at once: an advisory lock held by each
 * migration's transaction lets one of them migrate while the others wait and then find it done.
 * A schema newer than this code, or one holding tables but no version, is refused untouched.
 */
export async function migrate(client: pg.ClientBase, schema: string, where: string): Promise<void> {
  const s = quoteIdentifier(schema);
  const t = (table: string) => `${s}.${quoteIdentifier(table)}`;
  for (;;) {
    await client.query("BEGIN");
    try {
      await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`sessionvisor schema ${schema}`]);
      const tables = (
        await client.query<{ name: string }>(
          "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1",
          [schema],
        )
      ).rows.map((row) => row.name);
      let version = 0;
      if (tables.includes("schema_version")) {
        const row = await client.query<{ version: number | null }>(
          `SELECT max(version) AS version FROM ${t("schema_version")}`,
        );
        version = row.rows[0]?.version ?? 0;
      } else if (tables.length > 0) {
        throw new StoreCorruptError(
          where,
          new Error(`it holds tables (${tables.sort().join(", ")}) but is not a sessionvisor store`),
        );
      }
      if (version > POSTGRES_SCHEMA_VERSION)
        throw new StoreVersionError(where, version, POSTGRES_SCHEMA_VERSION);
      if (version === POSTGRES_SCHEMA_VERSION) {
        await client.query("COMMIT");
        return;
      }
      if (version === 0) {
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${t("schema_version")} (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
        );
      }
      await client.query((MIGRATIONS[version] as Migration)(t));
      await client.query(`INSERT INTO ${t("schema_version")} (version) VALUES ($1)`, [version + 1]);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    }
  }
}
