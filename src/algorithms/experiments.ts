/**
 * What the optimizer reads about a prompt's runs: for each rollout, the task, the evaluator's
 * feedback, the tools the agent was offered, the conversation it had (messages, tool calls and
 * their results — from the traces, through the adapter, never raw span dumps), its reward and any
 * error. Low rewards first; everything bounded in length, so one verbose run cannot crowd out the
 * others.
 */
import { type ChatSample, findingsOf, offeredTools, type RecordedFinding, type RewardFeedback, type TraceAdapter } from "../adapters/index.js";
import { type Store, spansOf } from "../store/index.js";
import type { ChatMessage, JsonValue, Rollout } from "../types/index.js";
import { rewardOrZero } from "./evaluate.js";

const MAX_TASK_CHARS = 1500;
const MAX_MESSAGE_CHARS = 1200;
const MAX_SYSTEM_CHARS = 4000;
const MAX_FEEDBACK_CHARS = 1500;
const MAX_TOOL_CHARS = 600;
const MAX_TOOLS_SHOWN = 20;
const MAX_FINDINGS_SHOWN = 5;
const MAX_TOTAL_CHARS = 16_000;

/** One run as the optimizer is shown it: the task, the feedback, one conversation and its tools, the reward and any error. */
export interface RunRecord {
  rollout: Rollout;
  /** The conversation shown: the longest recorded call (every call's prompt is a prefix of the next). */
  conversation: ChatMessage[];
  /** The tool definitions offered with that conversation. */
  tools: JsonValue[];
  /** The rewards that came with the evaluator's feedback text (with a `keep` filter: only those of the kept calls' agents, or of no agent). */
  feedback: RewardFeedback[];
  /** The agents of the kept calls, sorted. */
  agents: string[];
  /** LLM calls the run recorded, and how many of them the caller's filter kept. */
  calls: { total: number; kept: number };
  /** The behaviour findings its trace holds: the optimizer is told what was flagged and what it cost. */
  findings?: RecordedFinding[] | undefined;
}

/** A run's calls (as chat samples, with their agent and tools) and its rewards' feedback, read once from its traces. */
export interface RunCalls {
  rollout: Rollout;
  samples: ChatSample[];
  feedback: RewardFeedback[];
  findings: RecordedFinding[];
}

/** Chooses the calls that matter to a reader of the run (GEPA: those a component shaped). */
export type CallFilter = (call: ChatSample) => boolean;

/**
 * Reads a run from its traces. `keep` chooses the calls that matter (GEPA: those a component
 * shaped); without it every call counts.
 */
export async function readRun(store: Store, adapter: TraceAdapter, rollout: Rollout, keep?: CallFilter): Promise<RunRecord> {
  return runRecord(await readRunCalls(store, adapter, rollout), keep);
}

/** The calls and feedback of a run's last attempt, through the adapter. */
export async function readRunCalls(store: Store, adapter: TraceAdapter, rollout: Rollout): Promise<RunCalls> {
  const attempt = rollout.attempts.at(-1);
  if (!attempt) return { rollout, samples: [], feedback: [], findings: [] };
  const spans = await spansOf(store, rollout.rolloutId, attempt.attemptId);
  return { rollout, samples: adapter.toChatSamples(spans), feedback: adapter.feedback(spans), findings: findingsOf(spans) };
}

/** A run as shown, from calls already read: the kept calls' longest conversation, its tools, and the feedback that concerns them. */
export function runRecord({ rollout, samples, feedback, findings }: RunCalls, keep?: CallFilter): RunRecord {
  const kept = keep ? samples.filter(keep) : samples;
  const longest = kept.reduce<ChatSample | undefined>((best, s) => (best === undefined || s.record.messages.length > best.record.messages.length ? s : best), undefined);
  const agents = [...new Set(kept.flatMap((s) => (s.agentName === undefined ? [] : [s.agentName])))].sort();
  // A reward given under another agent judges that agent's calls, not the ones kept here.
  const relevant = keep ? feedback.filter((f) => f.agentName === undefined || agents.includes(f.agentName)) : feedback;
  return { rollout, conversation: longest?.record.messages ?? [], tools: longest?.record.tools ?? [], feedback: relevant, agents, calls: { total: samples.length, kept: kept.length }, findings };
}

/** The experiments text for a set of rollouts of one prompt. */
export async function describeRuns(store: Store, adapter: TraceAdapter, rollouts: readonly Rollout[]): Promise<string> {
  return renderRuns(await Promise.all(rollouts.map((rollout) => readRun(store, adapter, rollout))));
}

/** Runs as text, low rewards first, bounded in length. */
export function renderRuns(records: readonly RunRecord[]): string {
  const ordered = [...records].sort((a, b) => runReward(a) - runReward(b));
  const parts: string[] = [];
  // A system prompt or a set of tools is shown once in full; runs that had the same say so instead of repeating it.
  const seen: Seen = { systems: new Map(), tools: new Map() };
  let total = 0;
  for (const [i, record] of ordered.entries()) {
    const text = renderRun(record, i + 1, seen);
    if (total + text.length > MAX_TOTAL_CHARS && parts.length > 0) {
      parts.push(`(${ordered.length - i} more run(s) left out for length)`);
      break;
    }
    parts.push(text);
    total += text.length;
  }
  return parts.join("\n\n");
}

/** What earlier runs showed in full, by text, with the number of the run that showed it. */
interface Seen {
  systems: Map<string, number>;
  tools: Map<string, number>;
}

function renderRun(record: RunRecord, number: number, seen: Seen): string {
  const { rollout, conversation, tools, feedback } = record;
  const attempt = rollout.attempts.at(-1);
  const penalty = penaltyOf(record);
  const outcome = rollout.status === "succeeded" ? (rollout.finalReward ?? "none") : `0 (${rollout.status})`;
  const reward = penalty === 0 ? `${outcome}` : `${outcome}, minus a behaviour penalty of ${-penalty}: ${runReward(record)}`;
  const lines = [`### Run ${number}: reward ${reward}`];
  if (feedback.length > 0) lines.push(`Feedback: ${describeFeedback(feedback)}`);
  lines.push(...describeFindings(record.findings ?? []));
  lines.push(`Task: ${clip(JSON.stringify(rollout.input), MAX_TASK_CHARS)}`);
  if (attempt) {
    if (conversation.length > 0) {
      lines.push(...describeTools(tools, number, seen.tools));
      lines.push("Conversation:");
      for (const message of conversation) lines.push(describeMessage(message, number, seen.systems));
    } else {
      lines.push("Conversation: (no LLM call was recorded)");
    }
    if (attempt.error) lines.push(`Error (${attempt.error.kind}): ${clip(attempt.error.message.split("\n")[0] ?? "", 500)}`);
  }
  return lines.join("\n");
}

/** The sum of a run's behaviour penalties (0 or negative). */
function penaltyOf(record: RunRecord): number {
  return (record.findings ?? []).reduce((sum, f) => sum + f.penalty, 0);
}

/** The reward a run is judged by: its outcome (0 unless it succeeded) plus its behaviour penalty. */
export function runReward(record: RunRecord): number {
  return rewardOrZero(record.rollout) + penaltyOf(record);
}

/** One line per behaviour finding (a few at most): what was flagged, and what the policy did. */
function describeFindings(findings: readonly RecordedFinding[]): string[] {
  const shown = findings.slice(0, MAX_FINDINGS_SHOWN).map((f) => `Behaviour flagged (${f.detector}/${f.rule}, ${f.severity}, ${f.action}): ${clip(oneLine(f.message), MAX_FEEDBACK_CHARS / 4)}`);
  if (findings.length > MAX_FINDINGS_SHOWN) shown.push(`(${findings.length - MAX_FINDINGS_SHOWN} more behaviour finding(s) left out)`);
  return shown;
}

/** The feedback texts on one line, each named by its reward when there are several. */
function describeFeedback(feedback: readonly RewardFeedback[]): string {
  const texts = feedback.map((f) => (feedback.length > 1 && f.name !== undefined ? `(${f.name}: ${f.value}) ${f.feedback}` : f.feedback));
  return clip(oneLine(texts.join(" | ")), MAX_FEEDBACK_CHARS);
}

/** The tools offered, by name and description, once per distinct set. */
function describeTools(tools: readonly JsonValue[], run: number, seen: Map<string, number>): string[] {
  const offered = offeredTools(tools);
  if (offered.length === 0) return [];
  const key = JSON.stringify(offered);
  const first = seen.get(key);
  if (first !== undefined && first !== run) return [`Tools offered: (the same as in run ${first})`];
  seen.set(key, run);
  const lines = offered.slice(0, MAX_TOOLS_SHOWN).map((t) => `- ${t.name}${t.description === undefined ? "" : `: ${clip(oneLine(t.description), MAX_TOOL_CHARS)}`}`);
  if (offered.length > MAX_TOOLS_SHOWN) lines.push(`(${offered.length - MAX_TOOLS_SHOWN} more tool(s) left out for length)`);
  return ["Tools offered:", ...lines];
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

/** Line breaks as spaces: the runs are read line by line, and an evaluator's text must not pass for a message of the conversation. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ");
}

function clip(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}… (${text.length - limit} more characters)`;
}
