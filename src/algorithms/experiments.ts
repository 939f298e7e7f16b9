/**
 * What the optimizer reads about a prompt's runs: for each rollout, the task, the conversation the
 * agent had (messages, tool calls and their results — from the traces, through the adapter, never
 * raw span dumps), its reward and any error. Low rewards first; everything bounded in length, so
 * one verbose run cannot crowd out the others.
 */
import type { TraceAdapter } from "../adapters/index.js";
import { type Store, spansOf } from "../store/index.js";
import type { ChatMessage, Rollout } from "../types/index.js";
import { rewardOrZero } from "./evaluate.js";

const MAX_TASK_CHARS = 1500;
const MAX_MESSAGE_CHARS = 1200;
const MAX_SYSTEM_CHARS = 4000;
const MAX_TOTAL_CHARS = 16_000;


/** One run as the optimizer is shown it: the task, one conversation, the reward and any error. */
export interface RunRecord {
  rollout: Rollout;
  /** The conversation shown: the longest recorded call (every call's prompt is a prefix of the next). */
  conversation: ChatMessage[];
  /** LLM calls the run recorded, and how many of them the caller's filter kept. */
  calls: { total: number; kept: number };
}

/**
 * Reads a run from its traces. `keep` chooses the calls that matter (GEPA: those a component
 * shaped); without it every call counts.
 */
export async function readRun(store: Store, adapter: TraceAdapter, rollout: Rollout, keep?: (messages: readonly ChatMessage[]) => boolean): Promise<RunRecord> {
  const attempt = rollout.attempts.at(-1);
  if (!attempt) return { rollout, conversation: [], calls: { total: 0, kept: 0 } };
  const spans = await spansOf(store, rollout.rolloutId, attempt.attemptId);
  const records = adapter.toChatMessages(spans);
  const kept = keep ? records.filter((record) => keep(record.messages)) : records;
  const conversation = kept.reduce<ChatMessage[]>((longest, record) => (record.messages.length > longest.length ? record.messages : longest), []);
  return { rollout, conversation, calls: { total: records.length, kept: kept.length } };
}

/** The experiments text for a set of rollouts of one prompt. */
export async function describeRuns(store: Store, adapter: TraceAdapter, rollouts: readonly Rollout[]): Promise<string> {
  return renderRuns(await Promise.all(rollouts.map((rollout) => readRun(store, adapter, rollout))));
}

/** Runs as text, low rewards first, bounded in length. */
export function renderRuns(records: readonly RunRecord[]): string {
  const ordered = [...records].sort((a, b) => rewardOrZero(a.rollout) - rewardOrZero(b.rollout));
  const parts: string[] = [];
  // A system prompt is shown once in full; runs that had the same one say so instead of repeating it.
  const systems = new Map<string, number>();
  let total = 0;
  for (const [i, record] of ordered.entries()) {
    const text = renderRun(record, i + 1, systems);
    if (total + text.length > MAX_TOTAL_CHARS && parts.length > 0) {
      parts.push(`(${ordered.length - i} more run(s) left out for length)`);
      break;
    }
    parts.push(text);
    total += text.length;
  }
  return parts.join("\n\n");
}

function renderRun({ rollout, conversation }: RunRecord, number: number, systems: Map<string, number>): string {
  const attempt = rollout.attempts.at(-1);
  const lines = [`### Run ${number}: reward ${rollout.status === "succeeded" ? (rollout.finalReward ?? "none") : `0 (${rollout.status})`}`];
  lines.push(`Task: ${clip(JSON.stringify(rollout.input), MAX_TASK_CHARS)}`);
  if (attempt) {
    if (conversation.length > 0) {
      lines.push("Conversation:");
      for (const message of conversation) lines.push(describeMessage(message, number, systems));
    } else {
      lines.push("Conversation: (no LLM call was recorded)");
    }
    if (attempt.error) lines.push(`Error (${attempt.error.kind}): ${clip(attempt.error.message.split("\n")[0] ?? "", 500)}`);
  }
  return lines.join("\n");
}

function describeMessage(message: ChatMessage, run: number, systems: Map<string, number>): string {
  const system = message.role === "system" || message.role === "developer";
  const limit = system ? MAX_SYSTEM_CHARS : MAX_MESSAGE_CHARS;
  const content = typeof message.content === "string" ? message.content : message.content === null || message.content === undefined ? "" : JSON.stringify(message.content);
  if (system) {
    const first = systems.get(content);
    if (first !== undefined && first !== run) return `[${message.role}] (the same as in run ${first})`;
    systems.set(content, run);
  }
  const calls = (message.tool_calls ?? []).map(describeToolCall);
  const head = message.role === "tool" ? `[tool result${message.tool_call_id ? ` ${message.tool_call_id}` : ""}]` : `[${message.role}]`;
  return `${head} ${clip(content, limit)}${calls.length > 0 ? ` → calls ${calls.join(", ")}` : ""}`;
}

/** `name(arguments)` of an OpenAI-shaped tool call; anything else as JSON. */
function describeToolCall(call: unknown): string {
  const fn = typeof call === "object" && call !== null ? (call as { function?: { name?: unknown; arguments?: unknown } }).function : undefined;
  if (typeof fn?.name !== "string") return clip(JSON.stringify(call), 400);
  return `${fn.name}(${clip(typeof fn.arguments === "string" ? fn.arguments : JSON.stringify(fn.arguments ?? ""), 400)})`;
}

function clip(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}… (${text.length - limit} more characters)`;
}
