/** The task set: customer questions with the facts a right answer must state, and the grader. */
import { fileURLToPath } from "node:url";
import { loadDataset } from "tracetrain";
import { z } from "zod";

/** A type, not an interface, so that it is a JSON value the store accepts as a task. */
export type SupportTask = {
  id: string;
  question: string;
  /** Every group must be matched by one of its phrases (case-insensitive). */
  expect: string[][];
  /** Phrases a right answer must not contain. */
  reject?: string[];
};

const SupportTaskSchema = z.object({
  id: z.string().min(1),
  question: z.string().min(1),
  expect: z.array(z.array(z.string().min(1)).min(1)).min(1),
  reject: z.array(z.string().min(1)).optional(),
});

export const TASKS_FILE = fileURLToPath(new URL("./data/tasks.jsonl", import.meta.url));

export async function loadTasks(file = TASKS_FILE): Promise<SupportTask[]> {
  return loadDataset(file, { schema: SupportTaskSchema });
}

/** Train, validation and test thirds, interleaved so that each holds every kind of question. */
export function splitTasks(tasks: readonly SupportTask[]): { train: SupportTask[]; val: SupportTask[]; test: SupportTask[] } {
  const third = (k: number) => tasks.filter((_, i) => i % 3 === k);
  return { train: third(0), val: third(1), test: third(2) };
}

export interface Grade {
  score: 0 | 1;
  /** What was wrong, in words an optimizer can act on; empty when right. */
  feedback: string;
}

/** 1 when the answer states every expected fact and none of the rejected phrases. */
export function grade(answer: string, task: SupportTask): Grade {
  const text = answer.toLowerCase();
  const problems: string[] = [];
  for (const group of task.expect) {
    if (!group.some((phrase) => text.includes(phrase.toLowerCase()))) problems.push(`the answer should say ${group.map((p) => `"${p}"`).join(" or ")}`);
  }
  for (const phrase of task.reject ?? []) {
    if (text.includes(phrase.toLowerCase())) problems.push(`the answer must not say "${phrase}"`);
  }
  return { score: problems.length === 0 ? 1 : 0, feedback: problems.join("; ") };
}
