/**
 * The evaluation set (data/eval.jsonl): questions over Chinook, each with a gold query. The gold
 * result sets are computed by running the gold queries; the verifier runs the agent's final query
 * and compares result sets — as multisets of rows unless the question asks for an order, numbers
 * within a tolerance.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { type QueryResult, SqlRunner } from "./sql.js";

export const EVAL_FILE = fileURLToPath(new URL("./data/eval.jsonl", import.meta.url));

const EvalItemSchema = z.strictObject({
  id: z.string().min(1),
  question: z.string().min(1),
  sql: z.string().min(1),
  /** The question asks for an order ("longest first"): rows are compared in order. */
  ordered: z.boolean().optional(),
});
export type EvalItem = z.infer<typeof EvalItemSchema>;

/** What a rollout gets: the question, never the gold query (an optimizer reads tasks). */
export type SqlTask = { id: string; question: string };

export interface GoldAnswer {
  item: EvalItem;
  rows: unknown[][];
}

export function loadEvalItems(file: string = EVAL_FILE): EvalItem[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .map((line, i) => [line.trim(), i + 1] as const)
    .filter(([line]) => line !== "")
    .map(([line, lineNo]) => {
      const parsed = EvalItemSchema.safeParse(JSON.parse(line));
      if (!parsed.success) throw new Error(`${file}:${lineNo}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
      return parsed.data;
    });
}

/** Runs every gold query; a gold query that fails is a broken evaluation set, so it throws. */
export async function goldAnswers(items: readonly EvalItem[], sql: SqlRunner): Promise<Map<string, GoldAnswer>> {
  const gold = new Map<string, GoldAnswer>();
  for (const item of items) {
    const result = await sql.run(item.sql);
    if (!result.ok) throw new Error(`gold query of ${item.id} fails: ${result.error}`);
    if (result.truncated) throw new Error(`gold result of ${item.id} is longer than the row cap`);
    gold.set(item.id, { item, rows: result.rows });
  }
  return gold;
}

/** The tasks of a split: every third item from `offset` (0 train, 1 validation, 2 test), so each shape is in every split. */
export function split(items: readonly EvalItem[], part: "train" | "val" | "test"): SqlTask[] {
  const offset = { train: 0, val: 1, test: 2 }[part];
  return items.filter((_, i) => i % 3 === offset).map(({ id, question }) => ({ id, question }));
}

export const asTasks = (items: readonly EvalItem[]): SqlTask[] => items.map(({ id, question }) => ({ id, question }));

export interface Verification {
  correct: boolean;
  /** Why not, in the words an optimizer reads. */
  detail: string;
}

const TOLERANCE = 1e-6;

/** Compares an executed query's result with the gold rows. */
export function verify(result: QueryResult, gold: GoldAnswer): Verification {
  if (!result.ok) return { correct: false, detail: `the query failed: ${result.error}` };
  const got = result.rows;
  const want = gold.rows;
  if (got.length !== want.length || result.truncated) return { correct: false, detail: `expected ${want.length} row(s), got ${got.length}${result.truncated ? "+" : ""}` };
  const width = (rows: unknown[][]) => rows[0]?.length ?? 0;
  if (got.length > 0 && width(got) !== width(want)) return { correct: false, detail: `expected ${width(want)} column(s), got ${width(got)}` };
  const same = gold.item.ordered ? got.every((row, i) => sameRow(row, want[i]!)) : sameMultiset(got, want);
  if (same) return { correct: true, detail: "correct" };
  return { correct: false, detail: `expected ${preview(want)}, got ${preview(got)}${gold.item.ordered ? " (order matters)" : ""}` };
}

function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") return Math.abs(a - b) <= TOLERANCE * Math.max(1, Math.abs(a), Math.abs(b)) + 0.005;
  return a === b;
}

function sameRow(a: unknown[], b: unknown[]): boolean {
  return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
}

function sameMultiset(got: unknown[][], want: unknown[][]): boolean {
  const left = [...want];
  for (const row of got) {
    const at = left.findIndex((w) => sameRow(row, w));
    if (at < 0) return false;
    left.splice(at, 1);
  }
  return left.length === 0;
}

function preview(rows: unknown[][]): string {
  const shown = rows.slice(0, 3).map((r) => JSON.stringify(r)).join(", ");
  return `${rows.length} row(s) ${shown}${rows.length > 3 ? ", …" : ""}`;
}
