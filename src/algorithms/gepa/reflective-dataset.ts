/**
 * A component's reflective dataset: for each minibatch run of the parent, the task, the LLM calls
 * that component shaped (their messages, tool calls and tool results, and the output), the reward
 * and any error — read from the traces through the adapter. Runs the component shaped no call of
 * are left out: they say nothing about it.
 */
import type { TraceAdapter } from "../../adapters/index.js";
import type { Store } from "../../store/index.js";
import type { PromptTemplateResource, Rollout } from "../../types/index.js";
import { rewardOrZero } from "../evaluate.js";
import { readRun, renderRuns, type RunRecord } from "../experiments.js";
import { shapedBy } from "./components.js";

export interface ReflectiveDataset {
  component: string;
  records: RunRecord[];
  /** Mean reward of the runs kept. */
  score: number;
  /** The records as the reflection model reads them. */
  text: string;
}

export async function reflectiveDataset(store: Store, adapter: TraceAdapter, component: string, resource: PromptTemplateResource, runs: readonly Rollout[]): Promise<ReflectiveDataset> {
  const keep = shapedBy(resource);
  const all = await Promise.all(runs.map((rollout) => readRun(store, adapter, rollout, keep)));
  const records = all.filter((record) => record.calls.kept > 0);
  const score = records.length === 0 ? Number.NaN : records.reduce((sum, r) => sum + rewardOrZero(r.rollout), 0) / records.length;
  return { component, records, score, text: renderRuns(records) };
}

/** The components whose text shaped at least one LLM call of these runs. */
export async function usedComponents(store: Store, adapter: TraceAdapter, candidates: ReadonlyArray<[string, PromptTemplateResource]>, runs: readonly Rollout[]): Promise<string[]> {
  const used: string[] = [];
  for (const [name, resource] of candidates) {
    const keep = shapedBy(resource);
    const records = await Promise.all(runs.map((rollout) => readRun(store, adapter, rollout, keep)));
    if (records.some((r) => r.calls.kept > 0)) used.push(name);
  }
  return used;
}
