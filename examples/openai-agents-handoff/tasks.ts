/**
 * The support requests: what a customer writes, the records the desk's tools can look up for them,
 * and the expected outcome — which specialist should handle it and what it should do.
 */
import { fileURLToPath } from "node:url";
import { loadDataset } from "tracetrain";
import { z } from "zod";

export const SPECIALISTS = ["billing", "technical", "returns"] as const;
export type Specialist = (typeof SPECIALISTS)[number];

export const InvoiceSchema = z.object({
  id: z.string(),
  item: z.string(),
  amount: z.number(),
  days_ago: z.number().int(),
  status: z.enum(["paid", "refunded"]),
});
export const DiagnosisSchema = z.object({ locked: z.boolean(), outage: z.boolean(), app_version: z.string(), latest_version: z.string() });
export const OrderSchema = z.object({
  id: z.string(),
  item: z.string(),
  category: z.enum(["hardware", "software", "accessory"]),
  days_since_delivery: z.number().int(),
  opened: z.boolean(),
});

export const TaskSchema = z.object({
  id: z.string(),
  customer: z.string(),
  message: z.string(),
  /** What the back office knows about this customer: what the specialists' tools return. */
  records: z.object({
    invoices: z.array(InvoiceSchema).optional(),
    diagnosis: DiagnosisSchema.optional(),
    orders: z.array(OrderSchema).optional(),
  }),
  /** `action`: what the desk's action tools should have done, e.g. `refund INV-1001 20.00`, `fix update_app`, `label ORD-5001`, or `none`. */
  expected: z.object({ agent: z.enum(SPECIALISTS), action: z.string() }),
});

export type Task = z.infer<typeof TaskSchema>;
export type Invoice = z.infer<typeof InvoiceSchema>;
export type Diagnosis = z.infer<typeof DiagnosisSchema>;
export type Order = z.infer<typeof OrderSchema>;
export type Records = Task["records"];

export const TASKS_FILE = fileURLToPath(new URL("./data/tasks.jsonl", import.meta.url));

export function loadTasks(file = TASKS_FILE): Promise<Task[]> {
  return loadDataset(file, { schema: TaskSchema });
}

/**
 * Train, validation and held-out test thirds, each with the same share of every specialist's
 * requests: request i of a specialist goes to split i mod 3.
 */
export function splitTasks(tasks: readonly Task[]): { train: Task[]; val: Task[]; test: Task[] } {
  const splits: [Task[], Task[], Task[]] = [[], [], []];
  for (const specialist of SPECIALISTS) {
    tasks.filter((t) => t.expected.agent === specialist).forEach((task, i) => splits[i % 3]!.push(task));
  }
  const [train, val, test] = splits;
  return { train, val, test };
}

/** What a customer's message looks like to the desk: who writes, and what. */
export function requestText(task: Pick<Task, "customer" | "message">): string {
  return `Customer ${task.customer}: ${task.message}`;
}
