/**
 * The three agents' seed prompts and the messages they are sent. The writer's prompt is what the
 * optimizers change; the checker's and the rewriter's stay as they are.
 */
import type { Resource } from "tracetrain";

type PromptTemplateResource = Extract<Resource, { kind: "prompt_template" }>;

export const SEED_PROMPTS = {
  writer: "You are a data analyst. Write one SQLite query that answers the user's question over the Chinook music-store database. Reply with the query in a ```sql block and nothing else.",
  checker:
    "You review a SQLite query written for a question about the Chinook music-store database. You are shown the question, the query and the result of running it. Reply with a first line 'VERDICT: correct' or 'VERDICT: wrong', then a line 'CRITIQUE: ' saying what is wrong and how to fix it.",
  rewriter: "You fix SQLite queries for the Chinook music-store database. Rewrite the query so that it answers the question, following the reviewer's critique and changing nothing else. Reply with the query in a ```sql block and nothing else.",
} as const;

export type AgentName = keyof typeof SEED_PROMPTS;
export const AGENTS: readonly AgentName[] = ["writer", "checker", "rewriter"];

/** The seed prompts as the trainer's prompt_template resources, one per agent. */
export function seedPromptResources(): Record<AgentName, PromptTemplateResource> {
  return {
    writer: { kind: "prompt_template", template: SEED_PROMPTS.writer, engine: "mustache" },
    checker: { kind: "prompt_template", template: SEED_PROMPTS.checker, engine: "mustache" },
    rewriter: { kind: "prompt_template", template: SEED_PROMPTS.rewriter, engine: "mustache" },
  };
}

/** Markers of the three requests (the simulated models read them too). */
export const MARK = { schema: "Database schema:", result: "Result of running it:", critique: "Reviewer's critique:" } as const;

const fenced = (sql: string) => `\`\`\`sql\n${sql}\n\`\`\``;

export const writerMessage = (question: string, schema: string) => `${MARK.schema}\n${schema}\n\nQuestion: ${question}`;
export const checkerMessage = (question: string, sql: string, result: string) => `Question: ${question}\n\nQuery:\n${fenced(sql)}\n\n${MARK.result}\n${result}`;
export const rewriterMessage = (question: string, sql: string, critique: string) => `Question: ${question}\n\nQuery:\n${fenced(sql)}\n\n${MARK.critique}\n${critique}`;

/** The query in a model's reply: its ```sql block, else the text from the first SELECT or WITH. */
export function extractSql(reply: string): string {
  const block = /```(?:sql|sqlite)?\s*\n?([\s\S]*?)```/i.exec(reply)?.[1];
  const text = block ?? /\b(?:SELECT|WITH)\b[\s\S]*/i.exec(reply)?.[0] ?? reply;
  return text.trim().replace(/;\s*$/, "");
}

export type Verdict = "correct" | "wrong";

/** The checker's verdict and critique; a reply without a clear verdict counts as "wrong" only when it says so. */
export function parseReview(reply: string): { verdict: Verdict; critique: string } {
  const stated = /VERDICT:\s*\**\s*(correct|wrong|incorrect)/i.exec(reply)?.[1]?.toLowerCase();
  const verdict: Verdict = stated === undefined ? (/\b(?:wrong|incorrect)\b/i.test(reply) ? "wrong" : "correct") : stated === "correct" ? "correct" : "wrong";
  const critique = /CRITIQUE:\s*([\s\S]*)/i.exec(reply)?.[1]?.trim() ?? reply.trim();
  return { verdict, critique };
}

/**
 * Under RL (`npm start -- --algorithm rl`), the writer first asks its policy model — the LLM
 * resource `writer_policy`, which RL points at the training backend through its gateway — which
 * strategy the question needs, and adds that strategy's hint to its prompt. The reference backend
 * can only answer one of a fixed set of phrases: these.
 */
export const STRATEGIES: Readonly<Record<string, string>> = {
  "count distinct": 'For "how many different …" questions count distinct values: COUNT(DISTINCT column).',
  "order and limit": 'For "top N", "which N … the most" or "the N longest" questions, ORDER BY the measure and LIMIT N.',
  "line revenue": "Revenue from tracks is SUM(InvoiceLine.UnitPrice * InvoiceLine.Quantity); never sum Invoice.Total over joined invoice lines.",
  "foreign keys": "Join through the foreign-key columns: Customer.SupportRepId and Employee.ReportsTo reference Employee.EmployeeId.",
  "having": "Filter on an aggregate (COUNT, SUM …) with HAVING after GROUP BY, never in WHERE.",
  plain: "",
};

export const STRATEGY_PROMPT = `Choose the query strategy this question needs. Answer with exactly one of: ${Object.keys(STRATEGIES).join(", ")}.`;
