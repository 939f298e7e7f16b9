/**
 * The behaviour filter, live: runner hooks that inspect each rollout's trace the moment the agent
 * ends and write the findings as spans before the attempt completes — from a runner in this
 * process or on another machine, wherever the hooks are installed. Only a trace's own detectors
 * (`inspect`) run here; group and run detectors need the other rollouts and run in the
 * algorithms' review, which finds these spans and writes no finding twice.
 */
import { z } from "zod";
import { type BehaviourFilter, TraceAdapter, groupIdOf } from "../adapters/index.js";
import { recordFindings } from "../algorithms/index.js";
import type { RunnerHooks } from "../runner/index.js";
import type { Store } from "../store/index.js";
import { parseOrThrow } from "../types/index.js";
import { hasMethods } from "../util/index.js";
import { isTraceAdapter } from "./options.js";

export const BehaviourHooksOptionsSchema = z.strictObject({
  /** Where the finding spans go: the store the runner reports to (an `HttpStore` on a remote runner). */
  store: z.custom<Store>((value) => hasMethods(value, ["addSpans"]), "expected a Store (an object with addSpans())"),
  /** How the trace is read (agents selected, credit policy): the trainer's adapter. @default new TraceAdapter() */
  adapter: z.custom<TraceAdapter>(isTraceAdapter, "expected a TraceAdapter").optional(),
});
export type BehaviourHooksOptions = z.input<typeof BehaviourHooksOptionsSchema>;

/**
 * Runner hooks that record `filter`'s findings while each rollout ends: pass them as
 * `new Runner({ hooks })` or `new Trainer({ hooks })`. A detector that throws is reported by the
 * runner and leaves the rollout running on; the algorithms' review then fails on it loudly.
 */
export function behaviourHooks(filter: BehaviourFilter, options: BehaviourHooksOptions): RunnerHooks {
  const { store, adapter = new TraceAdapter() } = parseOrThrow(BehaviourHooksOptionsSchema, options, "behaviour hooks options");
  return {
    async onTraceEnd({ rollout, spans }) {
      const adapted = adapter.attempts(spans, { groupId: groupIdOf(rollout) })[0];
      if (adapted === undefined) return;
      await recordFindings(store, filter, spans, filter.inspect(adapted));
    },
  };
}
