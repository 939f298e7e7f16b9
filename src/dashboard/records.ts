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
  config: { heartbeatTimeoutMs?: number };
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Span {
  spanId: string;
  parentId: string | null;
  name: string;
  startTime: number;
  endTime: number;
  status: { code: string; message?: string };
  attributes: Record<string, unknown>;
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
  prompt: ChatMessage[];
  responses: Array<{ message: ChatMessage | null; finishReason: string | null }>;
  toolUses: Array<{ id?: string; name: string; arguments?: unknown; result?: unknown; spanId?: string }>;
  problems: string[];
}

export interface ChatView {
  rolloutId: string;
  attemptId: string;
  calls: ChatCall[];
}

/** A store event, as `GET /v1/events` sends it. */
export type StoreEvent =
  | { type: "rollout"; rolloutId: string; status: RolloutStatus }
  | { type: "attempt"; rolloutId: string; attemptId: string; status: string }
  | { type: "spans"; rolloutId: string; attemptId: string; count: number }
  | { type: "resources"; resourcesId: string; version: number };

export type Resource =
  | { kind: "prompt_template"; template: string; engine: "mustache" | "fstring" }
  | { kind: "llm"; baseUrl: string; model: string; apiKey?: string; sampling?: Record<string, unknown>; policyVersion?: string | number }
  | { kind: "json"; value: unknown };

/** An immutable, versioned set of named resources. */
export interface ResourcesSnapshot {
  resourcesId: string;
  version: number;
  createdAt: number;
  resources: Record<string, Resource>;
}

/** A runner process known to the store through its dequeues and heartbeats (`GET /v1/workers`). */
export interface Worker {
  workerId: string;
  status: "idle" | "busy";
  firstSeenAt: number;
  lastSeenAt: number;
  lastDequeueAt: number | null;
  activeAttempts: number;
  stats: Record<string, unknown> | null;
}
