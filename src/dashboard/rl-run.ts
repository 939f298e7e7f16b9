/** An RL run: one line chart per metric over its steps, redrawn as steps arrive. */
import { lineChart } from "./chart.js";
import { h, show } from "./dom.js";
import type { EvaluationData, RunEntry, TrainingRun } from "./records.js";
import { evaluations, rlCharts, rlSteps } from "./run-model.js";
import { number } from "./ticks.js";
import { costText } from "./tokens.js";

export function rlView(): { element: HTMLElement; update(run: TrainingRun, entries: readonly RunEntry[]): void } {
  const status = h("p", { class: "run-progress", role: "status" });
  const charts = h("div", { class: "charts" });
  const scores = h("section", { id: "evaluations", "aria-labelledby": "evaluations-title" });
  const element = h("div", {}, h("section", { "aria-labelledby": "curves-title" }, h("h2", { id: "curves-title" }, "Curves per step"), status, charts), scores);
  return {
    element,
    update(run, entries) {
      const steps = rlSteps(entries);
      const last = steps.at(-1);
      status.textContent =
        last === undefined
          ? "No step recorded yet."
          : `${steps.length} step${steps.length === 1 ? "" : "s"}; policy version ${String(last.newPolicyVersion)}${tokensSoFar(steps)}${run.status === "running" ? " — running, the curves grow as steps are recorded" : ""}.`;
      status.dataset.steps = String(steps.length);
      const specs = rlCharts(entries);
      // One step axis for all charts, so a step sits at the same place in each.
      const stepsShown = specs.flatMap((spec) => spec.series.flatMap((series) => series.points.map((p) => p.x)));
      const domain: [number, number] | undefined = stepsShown.length === 0 ? undefined : [Math.min(...stepsShown), Math.max(...stepsShown)];
      show(charts, ...specs.map((spec) => lineChart(spec, "step", domain)));
      show(scores, ...evaluationsTable(evaluations(entries)));
    },
  };
}

/** The training tokens of the steps recorded so far, summed (cost unknown once a step's is). */
function tokensSoFar(steps: ReturnType<typeof rlSteps>): string {
  const counted = steps.flatMap((s) => (s.tokens === undefined ? [] : [s.tokens]));
  if (counted.length === 0) return "";
  const total = counted.reduce((n, t) => n + t.total, 0);
  const cost = counted.reduce<number | null>((sum, t) => (sum === null || t.costUsd === null ? null : sum + t.costUsd), 0);
  const unpriced = [...new Set(counted.flatMap((t) => t.unpricedModels))];
  return `; ${total} training tokens, ${costText(cost, unpriced)}`;
}

/** The evaluations outside the steps (before the first, final, held-out), as recorded. */
function evaluationsTable(rows: readonly EvaluationData[]): HTMLElement[] {
  if (rows.length === 0) return [];
  const head = ["Evaluation", "Split", "Mean", "95% interval", "Tasks"];
  return [
    h("h2", { id: "evaluations-title" }, "Evaluations"),
    h(
      "table",
      { class: "evaluations" },
      h("thead", {}, h("tr", {}, ...head.map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        {},
        ...rows.map((row) =>
          h(
            "tr",
            {},
            h("td", {}, row.label),
            h("td", {}, row.split),
            h("td", { class: "num" }, row.mean === null ? "—" : number(row.mean)),
            h("td", { class: "num" }, row.ci95 ? `${number(row.ci95[0])} – ${number(row.ci95[1])}` : "—"),
            h("td", { class: "num" }, row.n),
          ),
        ),
      ),
    ),
  ];
}
