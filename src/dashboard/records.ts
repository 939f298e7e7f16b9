/**
 * The parts of the store's wire records the pages read. The browser build cannot import
 * src/types (zod, Node), so this is the reading side of those schemas, kept to what is shown.
 */

export type RolloutStatus = "queuing" | "running" | "requeuing" | "succeeded" | "failed" | "cancelled";
export type RolloutMode = "train" | "val" | "test";

export interface Attempt {
  rolloutId: string;
  attemptId: string;
  sequence: number;
  workerId: string | null;
  status: string;
  startedAt: number;
  endedAt: number | null;
  error: { kind: string; message: string } | null;
  finalReward: number | null;
  spanCount: number;
}

export interface Rollout {
  rolloutId: string;
  input: unknown;
  mode: RolloutMode;
  resourcesId: string | null;
  status: RolloutStatus;
  createdAt: number;
  endedAt: number | null;
  finalReward: number | null;
  attempts: Attempt[];
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** A span whole (`GET …/attempts/:attemptId/spans/:spanId`). */
export interface Span {
  traceId: string;
  spanId: string;
  parentId: string | null;
  name: string;
  startTime: number;
  endTime: number;
  status: { code: string; message?: string };
  attributes: Record<string, unknown>;
  events: Array<{ name: string; time: number; attributes: Record<string, unknown> }>;
  sequence: number;
}

export interface ChatMessage {
  role: string;
  content?: unknown;
  name?: string;
  tool_calls?: unknown[];
  tool_call_id?: string;
}

export interface ChatCall {
  callId: string;
  agentName: string | null;
  model: string | null;
  selected: boolean;
  exclusion: string | null;
  reward: number | null;
  prompt: ChatMessage[];
  /** Null: the call recorded no token ids (text only). */
  promptTokenIds: number[] | null;
  responses: Array<{ message: ChatMessage | null; finishReason: string | null; tokenIds: number[] | null; logprobs: number[] | null }>;
  toolUses: Array<{ id?: string; name: string; arguments?: unknown; result?: unknown; spanId?: string }>;
  problems: string[];
  layers: string[];
  mergedSpanIds: string[];
}

export interface CaptureCoverage {
  layers: Array<{ layer: string; spans: number; calls: number }>;
  merged: number;
  warnings: string[];
}

export interface TraceDiagnostics {
  callsFound: number;
  callsSelected: number;
  callsWithTokenIds: number;
  creditPolicy: string;
  finalReward: number | null;
  summary: string;
  dropped: Array<{ spanId: string; reason: string; detail: string }>;
  warnings: string[];
}

/** `GET …/attempts/:attemptId/chat`. */
export interface ChatView {
  rolloutId: string;
  attemptId: string;
  agents: string[];
  selection: { agents: string[] | null; credit: string };
  calls: ChatCall[];
  coverage: CaptureCoverage;
  diagnostics: TraceDiagnostics;
}

/** One span as the waterfall draws it (`GET …/attempts/:attemptId/trace`). */
export interface SpanOutline {
  spanId: string;
  parentId: string | null;
  name: string;
  startTime: number;
  endTime: number;
  sequence: number;
  status: string;
  type: string | null;
  layer: string | null;
  agent: string | null;
  reward: number | null;
}

export interface TraceOutline {
  rolloutId: string;
  attemptId: string;
  spans: SpanOutline[];
}

/** A store event, as `GET /v1/events` sends it. */
export type StoreEvent =
  | { type: "rollout"; rolloutId: string; status: RolloutStatus }
  | { type: "attempt"; rolloutId: string; attemptId: string; status: string }
  | { type: "spans"; rolloutId: string; attemptId: string; count: number }
  | { type: "resources"; resourcesId: string };
