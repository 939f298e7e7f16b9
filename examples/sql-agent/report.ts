/**
 * One evaluation of the SQL agent with given prompts: execution accuracy (the verifier's), the
 * checker's self-check agreement with it and the confusion between the two, per question — read
 * back from the store, where each rollout's reward span holds its dimensions.
 */
import { type Agent, type ResourcesMap, type Span, type Store, Trainer } from "tracetrain";
import { Attr } from "tracetrain/schemas";
import type { SqlTask } from "./eval-set.js";

export interface QuestionOutcome {
  id: string;
  question: string;
  /** The verifier: the final query's result set is the gold one. */
  correct: boolean;
  /** The checker's last verdict was "correct"; null when the rollout gave no verdict (it failed). */
  saidCorrect: boolean | null;
  /** The verifier's words (or the rollout's error). */
  detail: string;
}

export interface EvaluationReport {
  tasks: number;
  /** Share of questions whose final query returns the gold result set (a failed rollout counts as wrong). */
  accuracy: number;
  /** Share of questions where the checker's verdict agrees with the verifier (a failed rollout counts as disagreeing). */
  agreement: number;
  confusion: { correctSaidCorrect: number; wrongSaidCorrect: number; correctSaidWrong: number; wrongSaidWrong: number; noVerdict: number };
  outcomes: QuestionOutcome[];
}

export interface EvaluationRun {
  agent: Agent<SqlTask>;
  tasks: readonly SqlTask[];
  resources: ResourcesMap;
  store: string;
  runners?: number;
}

export async function evaluateSqlAgent(run: EvaluationRun): Promise<EvaluationReport> {
  const trainer = new Trainer({ store: run.store, runners: run.runners ?? 4, progress: false, initialResources: run.resources });
  try {
    const result = await trainer.evaluate(run.agent, run.tasks);
    const store = await trainer.store();
    const outcomes = await Promise.all(
      result.tasks.map(async (score, i): Promise<QuestionOutcome> => {
        const task = run.tasks[i]!;
        const values = rewardValues(await spansOf(store, score.rolloutId));
        if (score.status !== "succeeded" || values === undefined) {
          return { id: task.id, question: task.question, correct: false, saidCorrect: null, detail: score.error?.message.split("\n")[0] ?? `rollout ${score.status} without a reward` };
        }
        return { id: task.id, question: task.question, correct: values.execution === 1, saidCorrect: values.checker_verdict === 1, detail: values.feedback };
      }),
    );
    return summarize(outcomes);
  } finally {
    await trainer.close();
  }
}

export function summarize(outcomes: QuestionOutcome[]): EvaluationReport {
  const count = (test: (o: QuestionOutcome) => boolean) => outcomes.filter(test).length;
  const n = outcomes.length;
  return {
    tasks: n,
    accuracy: n === 0 ? 0 : count((o) => o.correct) / n,
    agreement: n === 0 ? 0 : count((o) => o.saidCorrect === o.correct) / n,
    confusion: {
      correctSaidCorrect: count((o) => o.correct && o.saidCorrect === true),
      wrongSaidCorrect: count((o) => !o.correct && o.saidCorrect === true),
      correctSaidWrong: count((o) => o.correct && o.saidCorrect === false),
      wrongSaidWrong: count((o) => !o.correct && o.saidCorrect === false),
      noVerdict: count((o) => o.saidCorrect === null),
    },
    outcomes,
  };
}

async function spansOf(store: Store, rolloutId: string): Promise<Span[]> {
  const spans: Span[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.querySpans({ rolloutId, attemptId: "latest", limit: 1000, ...(cursor ? { cursor } : {}) });
    spans.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return spans;
}

/** The final reward's named values and feedback, as the agent emitted them. */
function rewardValues(spans: readonly Span[]): { execution: number; checker_verdict: number; feedback: string } | undefined {
  const reward = spans.findLast((s) => s.name === "tracetrain.reward" && s.attributes?.[Attr.rewardFinal] !== false && s.attributes?.[Attr.rewardValues] !== undefined);
  if (reward === undefined) return undefined;
  const raw = reward.attributes?.[Attr.rewardValues];
  const values: unknown = typeof raw === "string" ? JSON.parse(raw) : raw;
  if (typeof values !== "object" || values === null) return undefined;
  const { execution, checker_verdict } = values as Record<string, unknown>;
  if (typeof execution !== "number" || typeof checker_verdict !== "number") return undefined;
  const feedback = reward.attributes?.[Attr.rewardFeedback];
  return { execution, checker_verdict, feedback: typeof feedback === "string" ? feedback : "" };
}

const pct = (x: number) => x.toFixed(3);

/** The per-question table and the self-check summary, as `npm run eval` prints them. */
export function formatReport(report: EvaluationReport, options: { verbose?: boolean } = {}): string {
  const { confusion: c } = report;
  const lines = [
    `execution accuracy   ${pct(report.accuracy)}  (${report.outcomes.filter((o) => o.correct).length}/${report.tasks} final queries return the gold result set)`,
    `self-check agreement ${pct(report.agreement)}  (the checker's verdict matches the verifier's)`,
    "",
    "                      verifier: correct  verifier: wrong",
    `checker: correct     ${String(c.correctSaidCorrect).padStart(17)}  ${String(c.wrongSaidCorrect).padStart(15)}`,
    `checker: wrong       ${String(c.correctSaidWrong).padStart(17)}  ${String(c.wrongSaidWrong).padStart(15)}`,
    ...(c.noVerdict > 0 ? [`no verdict (rollout failed): ${c.noVerdict}`] : []),
    "",
    `${"id".padEnd(5)} ${"verifier".padEnd(8)} ${"checker".padEnd(8)} question`,
  ];
  for (const o of report.outcomes) {
    lines.push(`${o.id.padEnd(5)} ${(o.correct ? "correct" : "wrong").padEnd(8)} ${(o.saidCorrect === null ? "—" : o.saidCorrect ? "correct" : "wrong").padEnd(8)} ${o.question}`);
    if (options.verbose) lines.push(`      ${o.detail}`);
  }
  return lines.join("\n");
}
