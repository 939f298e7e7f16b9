/** RL and SFT runs: one line chart per metric over their steps (rounds), redrawn as they arrive. */
import { lineChart } from "./chart.js";
import { h, show } from "./dom.js";
import type { EvaluationData, RunEntry, TokenFiguresData, TrainingRun } from "./records.js";
import { type ChartSpec, evaluations, rlCharts, rlSteps, sftCharts, sftRounds } from "./run-model.js";
import { number } from "./ticks.js";
import { costText } from "./tokens.js";

type RunView = { element: HTMLElement; update(run: TrainingRun, entries: readonly RunEntry[]): void };

/** What a policy run's page reads from its log: its charts, and how far it got. */
interface PolicyRunPage {
  /** What the x axis counts. */
  unit: "step" | "round";
  charts(entries: readonly RunEntry[]): ChartSpec[];
  progress(entries: readonly RunEntry[]): { count: number; version: string | number; tokens: TokenFiguresData[] } | undefined;
}

const tokensOf = (records: ReadonlyArray<{ tokens?: TokenFiguresData | undefined }>) => records.flatMap((r) => (r.tokens === undefined ? [] : [r.tokens]));

export function rlView(): RunView {
  return policyRunView({
    unit: "step",
    charts: rlCharts,
    progress(entries) {
      const steps = rlSteps(entries);
      const last = steps.at(-1);
      return last && { count: steps.length, version: last.newPolicyVersion, tokens: tokensOf(steps) };
    },
  });
}

export function sftView(): RunView {
  return policyRunView({
    unit: "round",
    charts: sftCharts,
    progress(entries) {
      const rounds = sftRounds(entries);
      const last = rounds.at(-1);
      return last && { count: rounds.length, version: last.newPolicyVersion, tokens: tokensOf(rounds) };
    },
  });
}

function policyRunView(page: PolicyRunPage): RunView {
  const { unit } = page;
  const status = h("p", { class: "run-progress", role: "status" });
  const charts = h("div", { class: "charts" });
  const scores = h("section", { id: "evaluations", "aria-labelledby": "evaluations-title" });
  const element = h("div", {}, h("section", { "aria-labelledby": "curves-title" }, h("h2", { id: "curves-title" }, `Curves per ${unit}`), status, charts), scores);
  return {
    element,
    update(run, entries) {
      const progress = page.progress(entries);
      const count = progress?.count ?? 0;
      status.textContent =
        progress === undefined
          ? `No ${unit} recorded yet.`
          : `${count} ${unit}${count === 1 ? "" : "s"}; policy version ${String(progress.version)}${tokensSoFar(progress.tokens)}${run.status === "running" ? ` — running, the curves grow as ${unit}s are recorded` : ""}.`;
      status.dataset.steps = String(count);
      const specs = page.charts(entries);
      // One axis for all charts, so a step sits at the same place in each.
      const shown = specs.flatMap((spec) => spec.series.flatMap((series) => series.points.map((p) => p.x)));
      const domain: [number, number] | undefined = shown.length === 0 ? undefined : [Math.min(...shown), Math.max(...shown)];
      show(charts, ...specs.map((spec) => lineChart(spec, unit, domain)));
      show(scores, ...evaluationsTable(evaluations(entries)));
    },
  };
}

/** The training tokens recorded so far, summed (cost unknown once a step's is). */
function tokensSoFar(counted: readonly TokenFiguresData[]): string {
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
