import { quoteIdentifier } from "./postgres-schema.js";

/**
 * Every statement of the Postgres store, for one schema. Values always travel as parameters;
 * only the schema name (validated: letters, digits, `_`) is part of the text.
 */
export function postgresStatements(schema: string) {
  const t = (table: string) => `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`;
  const sessions = t("sessions");
  const conversations = t("conversations");
  const turns = t("conversation_turns");
  const events = t("session_events");
  const state = t("store_state");
  const fences = t("session_fences");

  // Raises one session's fence to $fence, or leaves it when it is higher; a row comes back only
  // when the write may go ahead. ON CONFLICT locks the row either way, until the commit.
  const fenceOne = (id: string, fence: string) => `
    fence AS (
      INSERT INTO ${fences} AS f (id, fence) VALUES (${id}, ${fence})
      ON CONFLICT (id) DO UPDATE SET fence = excluded.fence WHERE f.fence <= excluded.fence
      RETURNING 1
    )`;
  const upsertSession = `
    INSERT INTO ${sessions} (id, record) VALUES ($1, $2)
    ON CONFLICT (id) DO UPDATE SET record = excluded.record, updated_at = now()`;
  const deleteAll = (guard: string) => `
    del_sessions AS (DELETE FROM ${sessions} WHERE id = $1 ${guard}),
    del_conversations AS (DELETE FROM ${conversations} WHERE id = $1 ${guard}),
    del_turns AS (DELETE FROM ${turns} WHERE session_id = $1 ${guard}),
    del_events AS (DELETE FROM ${events} WHERE session_id = $1 ${guard})`;
  const fenced = "AND EXISTS (SELECT 1 FROM fence)";

  return {
    putSession: upsertSession,
    putSessionFenced: `
      WITH ${fenceOne("$1", "$3")},
      put AS (
        INSERT INTO ${sessions} (id, record) SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM fence)
        ON CONFLICT (id) DO UPDATE SET record = excluded.record, updated_at = now()
      )
      SELECT EXISTS (SELECT 1 FROM fence) AS fenced`,
    getSession: `SELECT record FROM ${sessions} WHERE id = $1`,
    listSessions: `SELECT id, record FROM ${sessions} ORDER BY created`,
    deleteSession: `WITH ${deleteAll("")} SELECT 1`,
    deleteSessionFenced: `WITH ${fenceOne("$1", "$2")}, ${deleteAll(fenced)} SELECT EXISTS (SELECT 1 FROM fence) AS fenced`,
    claimFences: `SELECT ${quoteIdentifier(schema)}.claim_fences($1::text[], $2::bigint[])`,
    currentFence: `SELECT fence FROM ${fences} WHERE id = $1`,

    deleteTurnsOf: `DELETE FROM ${turns} WHERE session_id = ANY($1::text[])`,
    putHeads: `
      INSERT INTO ${conversations} (id, head, turn_by_turn)
      SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[])
      ON CONFLICT (id) DO UPDATE SET head = excluded.head, turn_by_turn = excluded.turn_by_turn`,
    insertTurns: `
      INSERT INTO ${turns} (session_id, seq, turn_id, turn)
      SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[])`,
    // The head and every turn's text joined in order: one round trip, one JSON parse.
    getConversation: `
      SELECT head, turn_by_turn,
        (SELECT string_agg(turn, ',' ORDER BY seq) FROM ${turns} WHERE session_id = $1) AS turns
      FROM ${conversations} WHERE id = $1`,
    lockHead: `SELECT head, turn_by_turn FROM ${conversations} WHERE id = $1 FOR UPDATE`,
    startHead: `INSERT INTO ${conversations} (id, head, turn_by_turn) VALUES ($1, '{}', true) ON CONFLICT (id) DO NOTHING`,
    setHead: `UPDATE ${conversations} SET head = $2 WHERE id = $1`,
    // Each turn replaces the newest stored turn with its id; the ids found come back.
    replaceTurns: `
      UPDATE ${turns} AS t SET turn = r.turn
      FROM unnest($2::text[], $3::text[]) AS r(turn_id, turn)
      WHERE t.session_id = $1
        AND t.seq = (SELECT max(seq) FROM ${turns} WHERE session_id = $1 AND turn_id = r.turn_id)
      RETURNING r.turn_id`,
    // After the newest stored turn, in order: index seeks, whatever the history's length.
    appendTurns: `
      INSERT INTO ${turns} (session_id, seq, turn_id, turn)
      SELECT $1, coalesce((SELECT max(seq) FROM ${turns} WHERE session_id = $1), 0) + a.n, a.turn_id, a.turn
      FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS a(turn_id, turn, n)`,
    // `first` is null when no turn has that id: the caller then rolls the change back.
    keepTurnsFrom: `
      WITH first AS (SELECT min(seq) AS seq FROM ${turns} WHERE session_id = $1 AND turn_id = $2),
      dropped AS (DELETE FROM ${turns} WHERE session_id = $1 AND seq < (SELECT seq FROM first))
      SELECT seq AS first FROM first`,

    appendEvents: `
      INSERT INTO ${events} (session_id, seq, event)
      SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])
      ON CONFLICT (session_id, seq) DO UPDATE SET event = excluded.event`,
    trimEvents: `
      DELETE FROM ${events} AS e USING unnest($1::text[]) AS k(id)
      WHERE e.session_id = k.id
        AND e.seq <= (SELECT seq FROM ${events} WHERE session_id = k.id ORDER BY seq DESC LIMIT 1 OFFSET $2)`,
    readEvents: `SELECT seq, event FROM ${events} WHERE session_id = $1 AND seq > $2 ORDER BY seq`,
    // One index seek per session, not a scan of every event.
    lastEventSeqs: `
      SELECT s.id, m.seq FROM ${sessions} AS s
      CROSS JOIN LATERAL (SELECT max(seq) AS seq FROM ${events} WHERE session_id = s.id) AS m
      WHERE m.seq IS NOT NULL ORDER BY s.created`,
    openEventLog: `
      WITH before AS (SELECT value FROM ${state} WHERE key = 'event_log'),
      mark AS (
        INSERT INTO ${state} (key, value) VALUES ('event_log', 'open')
        ON CONFLICT (key) DO UPDATE SET value = excluded.value
      )
      SELECT (SELECT value FROM before) AS before`,
    closeEventLog: `
      INSERT INTO ${state} (key, value) VALUES ('event_log', 'closed')
      ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
  };
}

export type Statements = ReturnType<typeof postgresStatements>;
