/**
 * What the Python agent left in the store, read back the way a trainer reads it: its spans per
 * attempt, and what tracetrain's adapters make of them (README "From traces to training data").
 */
import type { Span, Store } from "tracetrain";
import { toChatMessages, toTransitions } from "tracetrain/adapters";

export interface SpansSummary {
  /** Attempts with at least one span the Python program sent. */
  attempts: number;
  /** Its LLM-call spans (OTel GenAI `chat`), which came in over OTLP. */
  llmCalls: number;
  /** Reward spans recorded by the REST route (`tracetrain.layer` = `external`). */
  rewards: number;
  transitions: number;
  /** Transitions with the engine's exact prompt and response token ids (not `textOnly`). */
  withTokenIds: number;
  chatRecords: number;
}

export async function pythonSpansSummary(store: Store): Promise<SpansSummary> {
  const summary: SpansSummary = { attempts: 0, llmCalls: 0, rewards: 0, transitions: 0, withTokenIds: 0, chatRecords: 0 };
  for await (const rolloutId of rolloutIds(store)) {
    const spans = await trajectory(store, rolloutId);
    const calls = spans.filter((s) => s.attributes["gen_ai.operation.name"] === "chat").length;
    const rewards = spans.filter((s) => s.name === "tracetrain.reward" && s.attributes["tracetrain.layer"] === "external").length;
    if (calls + rewards === 0) continue;
    summary.attempts++;
    summary.llmCalls += calls;
    summary.rewards += rewards;
    const transitions = toTransitions(spans);
    summary.transitions += transitions.length;
    summary.withTokenIds += transitions.filter((t) => !t.textOnly).length;
    summary.chatRecords += toChatMessages(spans).length;
  }
  return summary;
}

async function* rolloutIds(store: Store): AsyncGenerator<string> {
  let cursor: string | undefined;
  do {
    const page = await store.queryRollouts({ limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
    for (const rollout of page.items) yield rollout.rolloutId;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
}

/** The spans of a rollout's last attempt: its trajectory. */
async function trajectory(store: Store, rolloutId: string): Promise<Span[]> {
  const spans: Span[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.querySpans({ rolloutId, attemptId: "latest", ...(cursor === undefined ? {} : { cursor }) });
    spans.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return spans;
}
