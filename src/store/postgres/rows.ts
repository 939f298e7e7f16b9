/**
 * Row shapes of the PostgreSQL engine and their conversion to and from records. pg parses jsonb
 * into fresh objects and (with the store's type parsers) bigint into numbers, so rows are cast to
 * these interfaces at the driver boundary, as the SQLite engine does.
 */
import type {
  Attempt,
  JsonObject,
  JsonValue,
  ParsedSpanInput,
  ResourcesMap,
  ResourcesSnapshot,
  Rollout,
  RolloutConfig,
  RolloutMode,
  RolloutStatus,
  Span,
  SpanKind,
} from "../../types/index.js";
import type { AttemptColumns } from "../sql-rows.js";

export interface RolloutRow {
  seq: number;
  rollout_id: string;
  input: JsonValue;
  mode: string;
  resources_id: string | null;
  status: string;
  config: RolloutConfig;
  metadata: JsonObject;
  created_at: number;
  ended_at: number | null;
  final_reward: number | null;
  queue_pos: number | null;
}

/** A rollout row with its attempts, aggregated as JSON by the same query (one snapshot, one round trip). */
export interface RolloutWithAttemptsRow extends RolloutRow {
  attempts: AttemptRow[];
}

export interface AttemptRow extends AttemptColumns {
  id: number;
  rollout_seq: number;
}

export interface SpanRow {
  rollout_id: string;
  attempt_seq: number;
  sequence: number;
  attempt_id: string;
  span_id: string;
  trace_id: string;
  parent_id: string | null;
  name: string;
  kind: string;
  start_time: number;
  end_time: number;
  status: Span["status"];
  attributes: JsonObject;
  events: Span["events"];
  links: Span["links"];
}

export interface ResourcesRow {
  version: number;
  resources_id: string;
  created_at: number;
  resources: ResourcesMap;
}

export interface WorkerRow {
  worker_id: string;
  first_seen_at: number;
  last_seen_at: number;
  last_dequeue_at: number | null;
  stats: JsonObject | null;
  active: number;
}

export function rolloutFromRow(row: RolloutRow, attempts: Attempt[]): Rollout {
  return {
    rolloutId: row.rollout_id,
    input: row.input,
    mode: row.mode as RolloutMode,
    resourcesId: row.resources_id,
    status: row.status as RolloutStatus,
    config: row.config,
    metadata: row.metadata,
    createdAt: row.created_at,
    endedAt: row.ended_at,
    finalReward: row.final_reward,
    attempts,
  };
}


export function spanFromRow(row: SpanRow): Span {
  return {
    rolloutId: row.rollout_id,
    attemptId: row.attempt_id,
    sequence: row.sequence,
    traceId: row.trace_id,
    spanId: row.span_id,
    parentId: row.parent_id,
    name: row.name,
    kind: row.kind as SpanKind,
    startTime: row.start_time,
    endTime: row.end_time,
    status: row.status,
    attributes: row.attributes,
    events: row.events,
    links: row.links,
  };
}

export function resourcesFromRow(row: ResourcesRow): ResourcesSnapshot {
  return { resourcesId: row.resources_id, version: row.version, createdAt: row.created_at, resources: row.resources };
}

/**
 * Column arrays for inserting or upserting attempts with one `unnest` statement: one array per
 * column, the same statement text for any number of rows.
 */
export function attemptColumns(entries: ReadonlyArray<{ attempt: Attempt; rolloutSeq: number }>): unknown[] {
  const columns: unknown[][] = Array.from({ length: 13 }, () => []);
  for (const { attempt: a, rolloutSeq } of entries) {
    const values = [
      a.attemptId,
      a.rolloutId,
      rolloutSeq,
      a.sequence,
      a.workerId,
      a.status,
      a.startedAt,
      a.endedAt,
      a.lastHeartbeatAt,
      a.error?.kind ?? null,
      a.error?.message ?? null,
      a.finalReward,
      a.spanCount,
    ];
    values.forEach((value, i) => columns[i]!.push(value));
  }
  return columns;
}

/** A span's own columns (everything but the keys the store assigns), serialized when the call is made. */
export interface SpanColumns {
  rolloutId: string;
  attemptId: string;
  spanId: string;
  /** trace_id … links, in insert order; JSON already stringified. */
  values: unknown[];
  /** Rough size in bytes, for chunking huge batches. */
  bytes: number;
}

export function spanColumns(span: ParsedSpanInput): SpanColumns {
  const status = JSON.stringify(span.status);
  const attributes = JSON.stringify(span.attributes);
  const events = span.events.length === 0 ? "[]" : JSON.stringify(span.events);
  const links = span.links.length === 0 ? "[]" : JSON.stringify(span.links);
  return {
    rolloutId: span.rolloutId,
    attemptId: span.attemptId,
    spanId: span.spanId,
    values: [span.traceId, span.parentId, span.name, span.kind, span.startTime, span.endTime, status, attributes, events, links],
    bytes: 200 + span.name.length + status.length + attributes.length + events.length + links.length,
  };
}
