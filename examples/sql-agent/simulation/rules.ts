/**
 * The SQL habits the simulated models know about. Each is a piece of general guidance a writer's
 * prompt may state; the simulated writer lapses on it (some of the time) when its prompt does not,
 * the simulated checker notices a lapse (some of the time), and the simulated optimizer proposes
 * the guidance when the failed runs it reads show the lapse. None of them knows any question's
 * answer: they read the question, the query and its result.
 */

export type RuleId = "quote" | "distinct" | "limit" | "grain" | "keys" | "having";

export interface Rule {
  id: RuleId;
  /** The guidance, as a prompt would state it. */
  sentence: string;
  /** How the simulated models recognise the guidance in a prompt or a critique. */
  stated: RegExp;
  /** Chance that a writer whose prompt does not state the rule lapses on a question that needs it. */
  lapse: number;
  /** Chance that the checker notices the lapse in a query that runs. */
  noticed: number;
  /** Whether a query shows the lapse, read from its text (and the question). */
  shows(question: string, sql: string): boolean;
}

export const RULES: readonly Rule[] = [
  {
    id: "quote",
    sentence: "Write string values in single quotes ('Rock'); in SQLite double quotes name a column, not a value.",
    stated: /single quotes?/i,
    lapse: 0.5,
    noticed: 1,
    shows: (_q, sql) => /=\s*"[^"]*"/.test(sql),
  },
  {
    id: "distinct",
    sentence: 'For "how many different …" questions count distinct values: COUNT(DISTINCT column).',
    stated: /DISTINCT/i,
    lapse: 0.8,
    noticed: 0.4,
    shows: (q, sql) => /\b(?:different|distinct|unique)\b/i.test(q) && !/\bDISTINCT\b/i.test(sql),
  },
  {
    id: "limit",
    sentence: 'For "top N", "which N … the most" or "the N longest" questions, ORDER BY the measure and LIMIT N.',
    stated: /\bLIMIT\b/,
    lapse: 0.7,
    noticed: 0.5,
    shows: (q, sql) => /\b(?:most|longest|top|highest)\b/i.test(q) && !/\bLIMIT\b/i.test(sql),
  },
  {
    id: "grain",
    sentence: "Revenue from tracks is SUM(InvoiceLine.UnitPrice * InvoiceLine.Quantity); never sum Invoice.Total over joined invoice lines, which counts each invoice once per line.",
    stated: /UnitPrice \* (?:InvoiceLine\.)?Quantity/i,
    lapse: 0.8,
    noticed: 0.3,
    shows: (q, sql) => /\brevenue\b/i.test(q) && /\bTotal\b/.test(sql) && /\bInvoiceLine\b/.test(sql),
  },
  {
    id: "keys",
    sentence: "Join through the foreign-key columns: Customer.SupportRepId and Employee.ReportsTo reference Employee.EmployeeId; never join two tables' own ids to each other.",
    stated: /foreign[- ]key/i,
    lapse: 0.8,
    noticed: 0.3,
    shows: (q, sql) => /\b(?:support rep|report to)\b/i.test(q) && !/\b(?:SupportRepId|ReportsTo)\b/.test(sql),
  },
  {
    id: "having",
    sentence: "Filter on an aggregate (COUNT, SUM …) with HAVING after GROUP BY, never in WHERE.",
    stated: /\bHAVING\b/,
    lapse: 0.8,
    noticed: 1,
    shows: (_q, sql) => /\bWHERE\s+(?:COUNT|SUM|AVG)\s*\(/i.test(sql),
  },
];

export function rule(id: RuleId): Rule {
  return RULES.find((r) => r.id === id)!;
}

/** The rules a prompt (or a critique) states. */
export function rulesStated(text: string): Set<RuleId> {
  return new Set(RULES.filter((r) => r.stated.test(text)).map((r) => r.id));
}

/** The rules a query visibly breaks for its question. */
export function rulesBroken(question: string, sql: string): RuleId[] {
  return RULES.filter((r) => r.shows(question, sql)).map((r) => r.id);
}

/** What an SQLite error says was wrong, as the rule that would have avoided it. */
export function ruleForError(error: string): RuleId | undefined {
  if (/no such column: "|string literal/i.test(error)) return "quote";
  if (/misuse of aggregate/i.test(error)) return "having";
  return undefined;
}
