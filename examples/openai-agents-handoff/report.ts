/**
 * The before/after figures: the desk evaluated with one set of instructions on held-out tasks, and
 * for each task the specialist the triage handed it to — read from the traces, where tracetrain's
 * Agents SDK instrumentation recorded every handoff as a span.
 */
import { type GEPAResult, type ResourcesMap, type Store, Trainer } from "tracetrain";
import { Attr } from "tracetrain/instrumentations";
import { helpdesk } from "./agent.js";
import { AGENT_NAMES, type Instructions } from "./desk.js";
import { SPECIALISTS, type Specialist, type Task } from "./tasks.js";

export interface TaskResult {
  task: Task;
  rolloutId: string;
  reward: number;
  /** The specialist the triage handed the request to (undefined: it handed it to nobody). */
  handedTo: string | undefined;
}

export interface Figures {
  tasks: number;
  success: number;
  handoffAccuracy: number;
  /** Per specialist: its success on the requests of its kind that reached it. */
  specialists: Record<Specialist, { handed: number; success: number | null }>;
}

/** Runs the desk with `resources` on `tasks` (rollouts in `store`) and reads who handled each from its trace. */
export async function evaluateDesk(store: Store, resources: ResourcesMap, tasks: readonly Task[], runners = 4): Promise<TaskResult[]> {
  const trainer = new Trainer({ store, runners, initialResources: resources, progress: false });
  try {
    const evaluation = await trainer.evaluate(helpdesk, tasks);
    return await Promise.all(
      evaluation.tasks.map(async (score, i) => {
        // A rollout that failed (an endpoint down, say) is no figure of the desk's: stop, saying why.
        if (score.status !== "succeeded") throw new Error(`task ${tasks[i]!.id} did not run: ${score.error?.message ?? score.status}`);
        const spans = await store.querySpans({ rolloutId: score.rolloutId, attemptId: "latest" });
        const handoff = spans.items.find((span) => typeof span.attributes[Attr.handoffTo] === "string");
        return { task: tasks[i]!, rolloutId: score.rolloutId, reward: score.reward ?? 0, handedTo: handoff?.attributes[Attr.handoffTo] as string | undefined };
      }),
    );
  } finally {
    await trainer.close();
  }
}

export function figures(results: readonly TaskResult[]): Figures {
  const mean = (xs: readonly number[]) => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);
  const specialists = Object.fromEntries(
    SPECIALISTS.map((name) => {
      const reached = results.filter((r) => r.task.expected.agent === name && r.handedTo === name);
      return [name, { handed: reached.length, success: mean(reached.map((r) => r.reward)) }];
    }),
  ) as Figures["specialists"];
  return {
    tasks: results.length,
    success: mean(results.map((r) => r.reward)) ?? 0,
    handoffAccuracy: mean(results.map((r) => (r.handedTo === r.task.expected.agent ? 1 : 0))) ?? 0,
    specialists,
  };
}

/** The instructions a resources snapshot holds. */
export function instructionsOf(resources: ResourcesMap): Instructions {
  return Object.fromEntries(
    AGENT_NAMES.map((name) => {
      const resource = resources[name];
      if (resource?.kind !== "prompt_template") throw new Error(`the resources have no prompt_template '${name}'`);
      return [name, resource.template];
    }),
  ) as Instructions;
}

export function table(before: Figures, after: Figures, optimized: Specialist): string {
  const fmt = (x: number | null) => (x === null ? "n/a" : x.toFixed(3));
  const row = (label: string, a: number | null, b: number | null) => `${label.padEnd(30)}${fmt(a).padStart(8)}${fmt(b).padStart(8)}`;
  const lines = [
    `${`held out: ${before.tasks} test tasks`.padEnd(30)}${"before".padStart(8)}${"after".padStart(8)}`,
    row("overall success", before.success, after.success),
    row("handoff accuracy", before.handoffAccuracy, after.handoffAccuracy),
  ];
  for (const name of [optimized, ...SPECIALISTS.filter((s) => s !== optimized)]) {
    const [b, a] = [before.specialists[name], after.specialists[name]];
    const handed = b.handed === a.handed ? `${b.handed}` : `${b.handed}/${a.handed}`;
    lines.push(row(`${name}${name === optimized ? " (optimized)" : ""}, ${handed} handed`, b.success, a.success));
  }
  return lines.join("\n");
}

/** Which instructions changed (only the optimized specialist's may), what GEPA did, and the new instructions. */
export function searchSummary(result: GEPAResult, seed: Instructions, after: Instructions, optimized: Specialist): string {
  const changed = AGENT_NAMES.filter((name) => seed[name] !== after[name]);
  const unchanged = AGENT_NAMES.filter((name) => seed[name] === after[name]);
  const statuses = new Map<string, number>();
  for (const p of result.proposals) statuses.set(p.status, (statuses.get(p.status) ?? 0) + 1);
  return [
    `instructions changed: ${changed.join(", ") || "none"}; unchanged: ${unchanged.join(", ") || "none"}`,
    `GEPA evolved: ${result.components.evolved.join(", ") || "none"}; kept fixed: ${result.components.fixed.map((f) => f.name).join(", ") || "none"}`,
    `verdict: ${result.verdict}${gain(result)}`,
    `proposals: ${result.proposals.length} (${[...statuses].map(([status, n]) => `${n} ${status}`).join(", ")}); rollouts: ${result.spend.rollouts}`,
    "",
    `${optimized} instructions after:`,
    ...after[optimized].split("\n").map((line) => `  ${line}`),
  ].join("\n");
}

/** The paired gain of the best over the seed on GEPA's own held-out check, when there was one. */
function gain(result: GEPAResult): string {
  const { improvement } = result;
  if (improvement === null) return "";
  const sign = improvement.mean >= 0 ? "+" : "";
  return ` (${sign}${improvement.mean.toFixed(3)} ± ${improvement.ci95.toFixed(3)}, paired over ${improvement.n} held-out tasks)`;
}
