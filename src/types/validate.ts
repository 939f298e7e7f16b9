import type { z } from "zod";
import { ValidationError, type ValidationIssue } from "./errors.js";

/** `["spans", 3, "attributes", "gen_ai.usage"]` → `spans[3].attributes["gen_ai.usage"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (typeof segment === "string" && /^[A-Za-z_$][\w$]*$/.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

/**
 * Converts zod issues to our issue list, limited so a hostile payload cannot produce a huge
 * error. Paths go under `prefix` (e.g. `["samples", 3]`). zod reports a failed union (a field
 * that may be a number or a string, say) as a bare "Invalid input"; given the `input`, the message
 * says which alternatives were accepted and what was received instead.
 */
export function toValidationIssues(error: z.ZodError, limit = 20, input?: unknown, prefix: readonly PropertyKey[] = []): ValidationIssue[] {
  return error.issues.slice(0, limit).map((issue) => ({ path: formatPath([...prefix, ...issue.path]), message: issueMessage(issue, input) }));
}

/**
 * Parses `value` with `schema`, throwing a {@link ValidationError} that names `what` and the path
 * of each problem. The single entry point for validating anything that crosses an API boundary.
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ValidationError(what, toValidationIssues(result.error, 20, value));
}

function issueMessage(issue: z.core.$ZodIssue, input: unknown): string {
  if (issue.code !== "invalid_union" || input === undefined) return issue.message;
  const alternatives = issue.errors.map((branch) => expectedBy(branch[0]));
  if (alternatives.length === 0 || alternatives.some((a) => a === undefined)) return issue.message;
  return `Invalid input: expected ${[...new Set(alternatives)].join(" or ")}, received ${kindOf(valueAt(input, issue.path))}`;
}

/** What one alternative of a union wanted, when it says so plainly. */
function expectedBy(issue: z.core.$ZodIssue | undefined): string | undefined {
  if (issue === undefined || issue.path.length > 0) return undefined;
  if (issue.code === "invalid_type") return issue.expected;
  if (issue.code === "invalid_value") return issue.values.map((v) => JSON.stringify(v)).join(" or ");
  return undefined;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return `number ${value}`;
  return typeof value;
}

/**
 * Parses a list item by item with `item`, stopping at the first 20 problems — so a huge batch of
 * bad items is rejected in the time it takes to find 20 of them, not after building an issue for
 * every item (which stalls a server's event loop for seconds on 100,000 bad items).
 */
export function parseListOrThrow<S extends z.ZodType>(item: S, value: unknown, max: number, what: string, limit = 20): Array<z.output<S>> {
  if (!Array.isArray(value)) {
    throw new ValidationError(what, [{ path: "", message: `expected an array, got ${value === null ? "null" : typeof value}` }]);
  }
  if (value.length > max) throw new ValidationError(what, [{ path: "", message: `too many items: ${value.length} (at most ${max})` }]);
  const out: Array<z.output<S>> = new Array(value.length);
  const issues: ValidationIssue[] = [];
  for (let i = 0; i < value.length && issues.length < limit; i++) {
    const result = item.safeParse(value[i]);
    if (result.success) out[i] = result.data;
    else for (const issue of result.error.issues.slice(0, limit - issues.length)) issues.push({ path: formatPath([i, ...issue.path]), message: issue.message });
  }
  if (issues.length > 0) throw new ValidationError(what, issues);
  return out;
}
