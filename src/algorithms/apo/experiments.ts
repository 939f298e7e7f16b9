/**
 * What the optimizer reads about a prompt's runs: for each rollout, the task, the conversation the
 * agent had (messages, tool calls and their results — from the traces, through the adapter, never
 * raw span dumps), its reward and any error. Low rewards first; everything bounded in length, so
 * one verbose run cannot crowd out the others.
 */
import type { TraceAdapter } from "../../adapters/index.js";
import { type Store, spansOf } from "../../store/index.js";
import type { ChatMessage, Rollout } from "../../types/index.js";
import { rewardOrZero } from "../evaluate.js";

const MAX_TASK_CHARS = 1500;
const MAX_MESSAGE_CHARS = 1200;
const MAX_SYSTEM_CHARS = 4000;
const MAX_TOTAL_CHARS = 16_000;


/** The experiments text for a set of rollouts of one prompt. */
export async function describeRuns(store: Store, adapter: TraceAdapter, rollouts: readonly Rollout[]): Promise<string> {
  const ordered = [...rollouts].sort((a, b) => rewardOrZero(a) - rewardOrZero(b));
  const parts: string[] = [];
  // A system prompt is shown once in full; runs that had the same one say so instead of repeating it.
  const systems = new Map<string, number>();
  let total = 0;
  for (const [i, rollout] of ordered.entries()) {
    const text = await describeRun(store, adapter, rollout, i + 1, systems);
    if (total + text.length > MAX_TOTAL_CHARS && parts.length > 0) {
      parts.push(`(${ordered.length - i} more run(s) left out for length)`);
      break;
    }
    parts.push(text);
    total += text.length;
  }
  return parts.join("\n\n");
}

async function describeRun(store: Store, adapter: TraceAdapter, rollout: Rollout, number: number, systems: Map<string, number>): Promise<string> {
  const attempt = rollout.attempts.at(-1);
  const lines = [`### Run ${number}: reward ${rollout.status === "succeeded" ? (rollout.finalReward ?? "none") : `0 (${rollout.status})`}`];
  lines.push(`Task: ${clip(JSON.stringify(rollout.input), MAX_TASK_CHARS)}`);
  if (attempt) {
    const spans = await spansOf(store, rollout.rolloutId, attempt.attemptId);
    const records = adapter.toChatMessages(spans);
    // The longest record is the whole conversation (every call's prompt is a prefix of the next).
    const conversation = records.reduce<ChatMessage[]>((longest, record) => (record.messages.length > longest.length ? record.messages : longest), []);
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
