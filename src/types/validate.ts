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

/** Converts zod issues to our issue list, limited so a hostile payload cannot produce a huge error. */
export function toValidationIssues(error: z.ZodError, limit = 20): ValidationIssue[] {
  return error.issues.slice(0, limit).map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
}

/**
 * Parses `value` with `schema`, throwing a {@link ValidationError} that names `what` and the path
 * of each problem. The single entry point for validating anything that crosses an API boundary.
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ValidationError(what, toValidationIssues(result.error));
}
