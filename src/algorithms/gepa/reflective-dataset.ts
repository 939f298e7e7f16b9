/**
 * A component's reflective dataset: for each minibatch run of the parent, the task, the LLM calls
 * that component shaped (their messages, the tools offered, tool calls and tool results, and the
 * output), the reward with the evaluator's feedback, and any error — read from the traces through
 * the adapter. Runs the component shaped no call of are left out: they say nothing about it.
 */
import type { TraceAdapter } from "../../adapters/index.js";
import type { Store } from "../../store/index.js";
import type { PromptTemplateResource, Rollout } from "../../types/index.js";
import { readRunCalls, renderRuns, runRecord, runReward, type RunRecord } from "../experiments.js";
import { type ComponentUse, selectComponents, shapedBy } from "./components.js";

export interface ReflectiveDataset {
  component: string;
  records: RunRecord[];
  /** Mean reward of the runs kept (behaviour penalties included). */
  score: number;
  /** The records as the reflection model reads them. */
  text: string;
}

/** Options of {@link reflectiveDataset}. */
export interface ReflectiveDatasetOptions {
  /**
   * Only calls of these agents (exact names, or a RegExp tested on the name) are shown, and only
   * feedback given under them or under no agent — GEPA's agent selection. Default: the adapter's own selection.
   */
  agents?: readonly string[] | RegExp | undefined;
}

export async function reflectiveDataset(
  store: Store,
  adapter: TraceAdapter,
  component: string,
  resource: PromptTemplateResource,
  runs: readonly Rollout[],
  options: ReflectiveDatasetOptions = {},
): Promise<ReflectiveDataset> {
  const keep = shapedBy(resource);
  // The adapters' own agent selection: a call of another agent is not selected, so never shown.
  const reader = options.agents === undefined ? adapter : adapter.with({ agents: options.agents });
  const all = await Promise.all(runs.map(async (rollout) => runRecord(await readRunCalls(store, reader, rollout), (call) => keep(call.record))));
  const records = all.filter((record) => record.calls.kept > 0);
  const score = records.length === 0 ? Number.NaN : records.reduce((sum, r) => sum + runReward(r), 0) / records.length;
  return { component, records, score, text: renderRuns(records) };
}

/**
 * For each component, the agents whose LLM calls it shaped in these runs — every agent's calls,
 * whatever the adapter selects, so a component used only by agents left out can be reported as
 * such (see `selectComponents`). Each run is read once.
 */
export async function componentUse(store: Store, adapter: TraceAdapter, candidates: ReadonlyArray<[string, PromptTemplateResource]>, runs: readonly Rollout[]): Promise<ComponentUse[]> {
  const reader = adapter.with({ agents: undefined });
  const calls = (await Promise.all(runs.map((rollout) => readRunCalls(store, reader, rollout)))).flatMap((run) => run.samples);
  return candidates.map(([component, resource]) => {
    const keep = shapedBy(resource);
    const shaped = calls.filter((call) => keep(call.record));
    const agents = [...new Set(shaped.flatMap((call) => (call.agentName === undefined ? [] : [call.agentName])))].sort();
    return { component, agents, unnamedCalls: shaped.filter((call) => call.agentName === undefined).length };
  });
}

/** The components whose text shaped at least one LLM call of these runs — of the agents the adapter selects, when it selects some. */
export async function usedComponents(store: Store, adapter: TraceAdapter, candidates: ReadonlyArray<[string, PromptTemplateResource]>, runs: readonly Rollout[]): Promise<string[]> {
  return selectComponents(await componentUse(store, adapter, candidates, runs), adapter.options.agents).evolved;
}
