/**
 * Problems found in a protocol payload, said so that someone fixing a Python server knows what to
 * send: the field path and what was expected. zod reports a failed union (`policy_version`, the
 * 0/1 of `response_mask`) as a bare "Invalid input"; here it says which alternatives it accepts.
 */
import type { z } from "zod";
import { ValidationError, type ValidationIssue, formatPath } from "../../types/index.js";

/** Issues of a failed parse, at most `limit`, with paths under `prefix` (e.g. `["samples", 3]`). */
export function wireIssues(error: z.ZodError, input: unknown, prefix: readonly PropertyKey[] = [], limit = 20): ValidationIssue[] {
  return error.issues.slice(0, limit).map((issue) => ({ path: formatPath([...prefix, ...issue.path]), message: issueMessage(issue, input) }));
}

/** Parses `value`, throwing a ValidationError naming `what` and each field with what it expected. */
export function parseWire<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ValidationError(what, wireIssues(result.error, value));
}

function issueMessage(issue: z.core.$ZodIssue, input: unknown): string {
  if (issue.code !== "invalid_union") return issue.message;
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
