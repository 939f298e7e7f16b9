/**
 * Runs agents the way the trainer does — a Runner with the real tracer and every instrumentation
 * installed, against the deterministic LLM server — and reads back what the store kept: the
 * rollout and its latest attempt's spans, with their store-assigned sequence numbers.
 */
import { setTraceProcessors, setTracingDisabled } from "@openai/agents";
import { type Logger, type Rollout, Runner, type Span, type Store, Tracer, agent } from "tracetrain";
import { MemoryStore } from "tracetrain/store";
import { type RolloutMode } from "tracetrain/schemas";
import { type MockLlm, startMockLlm } from "tracetrain/testing";

export const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export interface Harness {
  mock: MockLlm;
  store: Store;
  /** Runs `fn` as agent `name` on `task`; returns the ended rollout and its trajectory's spans. */
  run<T>(name: string, fn: (task: T) => Promise<number | void>, task?: T, mode?: RolloutMode): Promise<{ rollout: Rollout; spans: Span[] }>;
  close(): Promise<void>;
}

/** All spans of a rollout's latest attempt, following the store's cursor. */
export async function latestSpans(store: Store, rolloutId: string): Promise<Span[]> {
  const spans: Span[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.querySpans({ rolloutId, attemptId: "latest", ...(cursor ? { cursor } : {}) });
    spans.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return spans;
}

export async function startHarness(store: Store = new MemoryStore({ watchdogIntervalMs: false })): Promise<Harness> {
  const mock = await startMockLlm();
  const tracer = new Tracer({ sink: store, logger: quiet });
  // The Agents SDK's own exporter would try the network, and vitest's NODE_ENV=test turns its tracing off.
  setTraceProcessors([]);
  setTracingDisabled(false);
  await tracer.instrument();
  return {
    mock,
    store,
    async run<T>(name: string, fn: (task: T) => Promise<number | void>, task?: T, mode: RolloutMode = "train") {
      const runner = new Runner<T>({ store, agent: agent(fn, { name }), tracer, logger: quiet });
      const { rollout } = await runner.step((task ?? {}) as T, { mode });
      return { rollout, spans: await latestSpans(store, rollout.rolloutId) };
    },
    async close() {
      tracer.uninstrument();
      setTracingDisabled(true);
      await mock.close();
      await store.close();
    },
  };
}
