import { createHash } from "node:crypto";

/** SQL text with a stable name: pg prepares a named statement once per connection and reuses it. */
export interface Statement {
  name: string;
  text: string;
}

/** Names a statement after its text, so every distinct text (one per schema) gets its own name. */
export function statement(text: string): Statement {
  return { name: `tt_${createHash("sha1").update(text).digest("hex").slice(0, 24)}`, text };
}

const ACTIVE = "status IN ('preparing', 'running')";

// Explicit column lists, never `*`: a prepared statement whose result columns change (a later
// migration adding a column while older replicas still run) fails with "cached plan must not
// change result type", while an explicit list keeps working.
const ROLLOUT_FIELDS = ["seq", "rollout_id", "input", "mode", "resources_id", "status", "config", "metadata", "created_at", "ended_at", "final_reward", "queue_pos"];
const ATTEMPT_FIELDS = ["id", "attempt_id", "rollout_id", "rollout_seq", "sequence", "worker_id", "status", "started_at", "ended_at", "last_heartbeat_at", "error_kind", "error_message", "final_reward", "span_count"];
const columns = (fields: readonly string[], alias?: string) => fields.map((f) => (alias ? `${alias}.${f}` : f)).join(", ");
const ROLLOUT = columns(ROLLOUT_FIELDS);
const ATTEMPT = columns(ATTEMPT_FIELDS);
const RESOURCES = "version, resources_id, created_at, resources";
export const RUN_COLUMNS = "run_id, algorithm, status, created_at, updated_at, config, summary, entries";
/** Run ids compare as bytes in every engine (see migration 3). */
export const RUN_ORDER = `updated_at DESC, run_id COLLATE "C" DESC`;
export const RUN_ENTRY = "run_id, sequence, kind, key, at, data";

const ATTEMPT_COLUMNS =
  "attempt_id, rollout_id, rollout_seq, sequence, worker_id, status, started_at, ended_at, last_heartbeat_at, error_kind, error_message, final_reward, span_count";
const ATTEMPT_UNNEST =
  "unnest($1::text[], $2::text[], $3::bigint[], $4::int[], $5::text[], $6::text[], $7::float8[], $8::float8[], $9::float8[], $10::text[], $11::text[], $12::float8[], $13::int[])";

/**
 * Every fixed statement of the engine, for one quoted schema name (the only text ever
 * interpolated; values are always parameters). Batch writes pass one array per column and
 * `unnest` them, so one statement text serves any number of rows.
 */
export function statements(s: string) {
  // A rollout with its attempts as a JSON array: one query, one snapshot, one round trip.
  const rolloutSelect = `SELECT ${columns(ROLLOUT_FIELDS, "r")},
      COALESCE((SELECT json_agg(json_build_object(${ATTEMPT_FIELDS.map((f) => `'${f}', a.${f}`).join(", ")}) ORDER BY a.sequence)
                FROM ${s}.attempts a WHERE a.rollout_seq = r.seq), '[]'::json) AS attempts
    FROM ${s}.rollouts r`;
  const upsertAttempts = `INSERT INTO ${s}.attempts (${ATTEMPT_COLUMNS}) SELECT * FROM ${ATTEMPT_UNNEST}
    ON CONFLICT (attempt_id) DO UPDATE SET status = EXCLUDED.status, ended_at = EXCLUDED.ended_at,
      last_heartbeat_at = EXCLUDED.last_heartbeat_at, error_kind = EXCLUDED.error_kind, error_message = EXCLUDED.error_message,
      final_reward = EXCLUDED.final_reward, span_count = EXCLUDED.span_count`;
  /**
   * Inserts spans ($1–$16, one array per column, in arrival order) except those whose id the
   * attempt already has or that repeat an earlier row's, numbering them after the attempt's last
   * span; then sets the attempts' status and heartbeat ($17–$19) and adds the inserted spans to
   * their counts. Returns the spans inserted. The attempts must be locked by the caller.
   */
  const appendSpans = `WITH input AS (
      SELECT * FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                           $9::text[], $10::text[], $11::float8[], $12::float8[], $13::jsonb[], $14::jsonb[], $15::jsonb[], $16::jsonb[])
        WITH ORDINALITY AS i(rollout_seq, attempt_seq, attempt_ref, rollout_id, attempt_id, span_id, trace_id, parent_id,
                             name, kind, start_time, end_time, status, attributes, events, links, ord)
    ), fresh AS (
      SELECT DISTINCT ON (i.attempt_ref, i.span_id) i.* FROM input i
      WHERE NOT EXISTS (SELECT 1 FROM ${s}.spans x WHERE x.attempt_ref = i.attempt_ref AND x.span_id = i.span_id)
      ORDER BY i.attempt_ref, i.span_id, i.ord
    ), inserted AS (
      INSERT INTO ${s}.spans (rollout_seq, attempt_seq, sequence, attempt_ref, rollout_id, attempt_id, span_id, trace_id, parent_id,
                              name, kind, start_time, end_time, status, attributes, events, links)
      SELECT f.rollout_seq, f.attempt_seq, a.span_count + row_number() OVER (PARTITION BY f.attempt_ref ORDER BY f.ord),
             f.attempt_ref, f.rollout_id, f.attempt_id, f.span_id, f.trace_id, f.parent_id, f.name, f.kind, f.start_time, f.end_time,
             f.status, f.attributes, f.events, f.links
      FROM fresh f JOIN ${s}.attempts a ON a.id = f.attempt_ref
      RETURNING attempt_ref, span_id
    ), added AS (
      SELECT attempt_ref, count(*)::int AS n FROM inserted GROUP BY attempt_ref
    ), touched AS (
      UPDATE ${s}.attempts a SET status = t.status, last_heartbeat_at = t.heartbeat, span_count = a.span_count + COALESCE(added.n, 0)
      FROM unnest($17::bigint[], $18::text[], $19::float8[]) AS t(id, status, heartbeat) LEFT JOIN added ON added.attempt_ref = t.id
      WHERE a.id = t.id
    )
    SELECT attempt_ref, span_id FROM inserted`;
  return {
    rolloutSelect,
    rolloutById: statement(`${rolloutSelect} WHERE r.rollout_id = $1`),
    rolloutsByIds: statement(`${rolloutSelect} WHERE r.rollout_id = ANY($1::text[])`),

    /** `$1` creation numbers and the first `$2` of them also a queue position; the caller sorts each list. */
    allocate: statement(
      `SELECT nextval('${s}.rollout_seq') AS seq, CASE WHEN i <= $2 THEN nextval('${s}.queue_pos') END AS pos FROM generate_series(1, $1::int) AS i`,
    ),
    insertRollouts: statement(
      `INSERT INTO ${s}.rollouts (seq, rollout_id, input, mode, resources_id, status, config, metadata, created_at, ended_at, final_reward, queue_pos)
       SELECT * FROM unnest($1::bigint[], $2::text[], $3::jsonb[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::jsonb[],
                            $9::float8[], $10::float8[], $11::float8[], $12::bigint[])
       ON CONFLICT (rollout_id) DO NOTHING RETURNING rollout_id`,
    ),
    upsertAttempts: statement(upsertAttempts),

    /**
     * The queue head, skipping rows another transaction has locked: concurrent dequeuers (here or in
     * other replicas) each take different rollouts and never wait for one another.
     */
    claimable: statement(`SELECT ${ROLLOUT} FROM ${s}.rollouts WHERE queue_pos IS NOT NULL ORDER BY queue_pos LIMIT $1 FOR UPDATE SKIP LOCKED`),
    attemptsOf: statement(`SELECT ${ATTEMPT} FROM ${s}.attempts WHERE rollout_seq = ANY($1::bigint[]) ORDER BY rollout_seq, sequence`),
    /**
     * Locks rollouts (in rollout id order), then their attempts (in attempt id order, as
     * {@link lockAttempts} does), in one round trip. Every transaction takes row locks of one kind
     * in one order, so transactions locking overlapping sets cannot deadlock.
     */
    lockRollouts: statement(
      `WITH r AS MATERIALIZED (SELECT ${ROLLOUT} FROM ${s}.rollouts WHERE rollout_id = ANY($1::text[]) ORDER BY rollout_id COLLATE "C" FOR UPDATE),
            a AS MATERIALIZED (SELECT ${ATTEMPT} FROM ${s}.attempts WHERE rollout_seq IN (SELECT seq FROM r) ORDER BY attempt_id COLLATE "C" FOR UPDATE)
       SELECT r.*, COALESCE((SELECT json_agg(json_build_object(${ATTEMPT_FIELDS.map((f) => `'${f}', a.${f}`).join(", ")}) ORDER BY a.sequence)
                             FROM a WHERE a.rollout_seq = r.seq), '[]'::json) AS attempts
       FROM r`,
    ),
    lockAttempts: statement(`SELECT ${ATTEMPT} FROM ${s}.attempts WHERE attempt_id = ANY($1::text[]) ORDER BY attempt_id COLLATE "C" FOR UPDATE`),

    /**
     * Writes state-machine steps: the rollouts' new status (a rollout that enters the queue gets a
     * fresh position at its back) and the attempts they created or changed, in one statement.
     */
    persist: statement(
      `WITH changed AS (
         UPDATE ${s}.rollouts r SET status = u.status, ended_at = u.ended_at, final_reward = u.final_reward,
           queue_pos = CASE WHEN u.queued THEN nextval('${s}.queue_pos') END
         FROM unnest($14::bigint[], $15::text[], $16::float8[], $17::float8[], $18::boolean[]) AS u(seq, status, ended_at, final_reward, queued)
         WHERE r.seq = u.seq
       )
       ${upsertAttempts}`,
    ),

    appendSpans: statement(appendSpans),
    touchAttempts: statement(
      `UPDATE ${s}.attempts a SET status = u.status, last_heartbeat_at = u.heartbeat, span_count = u.span_count
       FROM unnest($1::bigint[], $2::text[], $3::float8[], $4::int[]) AS u(id, status, heartbeat, span_count) WHERE a.id = u.id`,
    ),
    /** The rollout's number and, if `$2` names one of its attempts, that attempt's sequence. */
    spanKeys: statement(
      `SELECT r.seq, a.sequence AS attempt_seq FROM ${s}.rollouts r
       LEFT JOIN ${s}.attempts a ON a.rollout_seq = r.seq AND a.attempt_id = $2 WHERE r.rollout_id = $1`,
    ),
    activeAttempts: statement(`SELECT ${columns(ATTEMPT_FIELDS, "a")}, r.config FROM ${s}.attempts a JOIN ${s}.rollouts r ON r.seq = a.rollout_seq WHERE a.${ACTIVE}`),

    resourcesById: statement(`SELECT ${RESOURCES} FROM ${s}.resources WHERE resources_id = $1`),
    latestResources: statement(`SELECT ${RESOURCES} FROM ${s}.resources ORDER BY version DESC LIMIT 1`),
    /**
     * Versions are MAX+1 under this lock rather than from a sequence: a sequence would leave gaps
     * (a rolled-back or idempotent repeat still consumes a value), and versions are meant to count
     * 1, 2, 3 like the other engines'. Snapshots are rare, so serializing their writers costs
     * nothing; the lock mode still lets readers through.
     */
    lockResources: `LOCK TABLE ${s}.resources IN SHARE ROW EXCLUSIVE MODE`,
    insertResources: statement(
      `INSERT INTO ${s}.resources (version, resources_id, created_at, resources)
       SELECT COALESCE(MAX(version), 0) + 1, $1, $2, $3::jsonb FROM ${s}.resources RETURNING ${RESOURCES}`,
    ),

    resourcesBelow: statement(`SELECT ${RESOURCES} FROM ${s}.resources WHERE version < $1 ORDER BY version DESC LIMIT $2`),

    runById: statement(`SELECT ${RUN_COLUMNS} FROM ${s}.runs WHERE run_id = $1`),
    /**
     * Creates run `$1` or, when its algorithm `$2` matches, updates its updatedAt `$4` and the status
     * `$3`, config `$5` and summary `$6` given (null: keep; a new run's status is `running`).
     * Returns no row for another algorithm's run.
     */
    upsertRun: statement(
      `INSERT INTO ${s}.runs AS r (run_id, algorithm, status, created_at, updated_at, config, summary, entries)
       VALUES ($1, $2, COALESCE($3::text, 'running'), $4, $4, COALESCE($5::jsonb, '{}'::jsonb), $6::jsonb, 0)
       ON CONFLICT (run_id) DO UPDATE SET status = COALESCE($3::text, r.status), updated_at = EXCLUDED.updated_at,
         config = COALESCE($5::jsonb, r.config), summary = COALESCE($6::jsonb, r.summary)
       WHERE r.algorithm = EXCLUDED.algorithm
       RETURNING ${RUN_COLUMNS}`,
    ),
    /** Appends serialize on the run's row: sequences follow its count with no gap and no repeat. */
    lockRun: statement(`SELECT ${RUN_COLUMNS} FROM ${s}.runs WHERE run_id = $1 FOR UPDATE`),
    /**
     * Appends entries ($3–$6, one array per column, in arrival order) to run `$1`, whose log holds
     * `$2` entries, skipping each whose key the log or an earlier entry of the batch has; then sets
     * the run's count and updatedAt `$7` if any was added. Returns how many were. The run must be
     * locked by the caller.
     */
    appendRunEntries: statement(
      `WITH input AS (
         SELECT * FROM unnest($3::text[], $4::text[], $5::float8[], $6::jsonb[]) WITH ORDINALITY AS i(kind, key, at, data, ord)
       ), fresh AS (
         SELECT i.* FROM input i
         WHERE i.key IS NULL
            OR (NOT EXISTS (SELECT 1 FROM ${s}.run_entries x WHERE x.run_id = $1 AND x.key = i.key)
                AND NOT EXISTS (SELECT 1 FROM input j WHERE j.key = i.key AND j.ord < i.ord))
       ), inserted AS (
         INSERT INTO ${s}.run_entries (run_id, sequence, kind, key, at, data)
         SELECT $1, $2::int + row_number() OVER (ORDER BY f.ord), f.kind, f.key, f.at, f.data FROM fresh f
         RETURNING sequence
       ), counted AS (
         SELECT count(*)::int AS added FROM inserted
       ), touched AS (
         UPDATE ${s}.runs SET entries = $2::int + counted.added, updated_at = $7 FROM counted WHERE run_id = $1 AND counted.added > 0
       )
       SELECT added FROM counted`,
    ),

    /** Upserts workers `$1` (in id order, one row each) with their first and last sightings, last dequeue and stats. */
    recordWorkers: statement(
      `INSERT INTO ${s}.workers AS w (worker_id, first_seen_at, last_seen_at, last_dequeue_at, stats)
       SELECT * FROM unnest($1::text[], $2::float8[], $3::float8[], $4::float8[], $5::jsonb[])
       ON CONFLICT (worker_id) DO UPDATE SET last_seen_at = GREATEST(w.last_seen_at, EXCLUDED.last_seen_at),
         last_dequeue_at = COALESCE(EXCLUDED.last_dequeue_at, w.last_dequeue_at), stats = COALESCE(EXCLUDED.stats, w.stats)`,
    ),
    workers: statement(
      `SELECT w.worker_id, w.first_seen_at, w.last_seen_at, w.last_dequeue_at, w.stats, COALESCE(a.n, 0) AS active FROM ${s}.workers w
       LEFT JOIN (SELECT worker_id, count(*) AS n FROM ${s}.attempts WHERE ${ACTIVE} GROUP BY worker_id) a USING (worker_id)
       ORDER BY w.first_seen_at, w.worker_id COLLATE "C"`,
    ),
    /** Spans are counted from the attempts' span counts, which equal their span rows: far cheaper than counting spans. */
    stats: statement(
      `SELECT (SELECT COALESCE(json_object_agg(status, n), '{}'::json) FROM (SELECT status, count(*) AS n FROM ${s}.rollouts GROUP BY status) t) AS by_status,
              (SELECT count(*) FROM ${s}.attempts) AS attempts,
              (SELECT count(*) FROM ${s}.attempts WHERE ${ACTIVE}) AS active,
              (SELECT COALESCE(sum(span_count), 0) FROM ${s}.attempts) AS spans,
              (SELECT count(*) FROM ${s}.resources) AS resources,
              (SELECT count(*) FROM ${s}.workers) AS workers,
              (SELECT count(*) FROM ${s}.rollouts WHERE queue_pos IS NOT NULL) AS queued`,
    ),

    /** One NOTIFY per payload, all in one statement: delivered together, in order. */
    notify: statement(`SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload`),
  };
}

export type Statements = ReturnType<typeof statements>;
