import { z } from "zod";
import { type JsonValue, JsonValueSchema } from "./json.js";

/** Machine-readable error codes. Over HTTP they map to 404, 409, 400, 503, 503, 504, 401, 413, 501, 501 and 500. */
export const ErrorCodeSchema = z.enum([
  "not_found",
  "conflict",
  "validation",
  "closed",
  "unavailable",
  "timeout",
  "unauthorized",
  "payload_too_large",
  "missing_dependency",
  /** The other side lacks a capability the request needs (a training backend without restore, say). */
  "not_supported",
  "internal",
]);
export type ErrorCode = z.infer<typeof ErrorCodeSchema>;

/** The JSON body of every error response of the store server. */
export const ErrorBodySchema = z.object({
  error: z.object({
    code: ErrorCodeSchema,
    message: z.string(),
    details: JsonValueSchema.optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** Base class of every error tracetrain throws on purpose. Check `code`, not the message. */
export class TracetrainError extends Error {
  readonly code: ErrorCode;
  readonly details: JsonValue | undefined;

  constructor(code: ErrorCode, message: string, details?: JsonValue, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }

  toJSON(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } };
  }
}

/** The kinds of records a store holds, used in error messages and details. */
export type EntityKind = "rollout" | "attempt" | "span" | "resources" | "worker" | "run" | "store";

/** A rollout, attempt, resources snapshot or worker id that the store does not know. */
export class NotFoundError extends TracetrainError {
  readonly entity: EntityKind;
  readonly id: string;

  constructor(entity: EntityKind, id: string, message = `${entity} '${id}' not found`) {
    super("not_found", message, { entity, id });
    this.entity = entity;
    this.id = id;
  }

  /** An attempt that does not exist, or not in the rollout named with it. */
  static attempt(rolloutId: string, attemptId: string): NotFoundError {
    return new NotFoundError("attempt", attemptId, `attempt '${attemptId}' not found in rollout '${rolloutId}'`);
  }
}

/** The request is well-formed but not allowed in the current state (e.g. completing a timed-out attempt). */
export class ConflictError extends TracetrainError {
  constructor(message: string, details?: JsonValue) {
    super("conflict", message, details);
  }
}

/** One problem in a rejected payload: where (`spans[3].attributes.foo`) and what was expected. */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** A payload failed its schema. `issues` lists every problem with its path. */
export class ValidationError extends TracetrainError {
  readonly issues: ValidationIssue[];

  constructor(what: string, issues: ValidationIssue[]) {
    const first = issues[0];
    const where = first && first.path ? `${first.path}: ` : "";
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more issue${issues.length > 2 ? "s" : ""})` : "";
    super("validation", `invalid ${what}: ${where}${first?.message ?? "invalid value"}${more}`, {
      issues: issues.map((i) => ({ path: i.path, message: i.message })),
    });
    this.issues = issues;
  }
}

/** One problem in a dataset file: where (1-based line and column, when it has one) and what is wrong. */
export interface DatasetProblem {
  line?: number | undefined;
  column?: number | undefined;
  /** The field of the row, for a row that failed the schema (`answer`, `items[2].name`). */
  field?: string | undefined;
  message: string;
}

/**
 * A dataset file that cannot be read as asked: unreadable, not valid JSONL, JSON or CSV, empty, or
 * a row that fails the schema. The message reads `file:line: what is wrong` (`file:line:column:`
 * when the column is known, `file:` for the file as a whole); `problems` lists each one found.
 */
export class DatasetError extends ValidationError {
  /** The file as it was named to the loader. */
  readonly file: string;
  readonly problems: DatasetProblem[];

  constructor(file: string, problems: DatasetProblem[], total = problems.length) {
    super(`dataset ${file}`, problems.map((p) => ({ path: datasetLocation(file, p), message: withField(p) })));
    this.file = file;
    this.problems = problems;
    const first = problems[0];
    const more = total > 1 ? ` (and ${total - 1} more problem${total > 2 ? "s" : ""}${moreLines(problems.slice(1))})` : "";
    this.message = first === undefined ? `${file}: invalid dataset` : `${datasetLocation(file, first)}: ${withField(first)}${more}`;
  }

  /** The line of the first problem, when it is about a line. */
  get line(): number | undefined {
    return this.problems[0]?.line;
  }
}

function datasetLocation(file: string, problem: DatasetProblem): string {
  if (problem.line === undefined) return file;
  return problem.column === undefined ? `${file}:${problem.line}` : `${file}:${problem.line}:${problem.column}`;
}

function withField(problem: DatasetProblem): string {
  return problem.field ? `${problem.field}: ${problem.message}` : problem.message;
}

function moreLines(problems: DatasetProblem[]): string {
  const lines = [...new Set(problems.flatMap((p) => (p.line === undefined ? [] : [p.line])))];
  if (lines.length === 0) return "";
  return `, at line${lines.length > 1 ? "s" : ""} ${lines.slice(0, 5).join(", ")}${lines.length > 5 ? ", …" : ""}`;
}

/** The store (or client) was closed; no further calls are accepted. */
export class StoreClosedError extends TracetrainError {
  constructor(message = "the store is closed") {
    super("closed", message);
  }
}

/** The store could not be reached (a server down or restarting). Retrying later may succeed. */
export class StoreUnavailableError extends TracetrainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("unavailable", message, undefined, options);
  }
}

/**
 * A package tracetrain loads only when a feature needs it (`pg`, `better-sqlite3`,
 * `@dqbd/tiktoken`) is not installed in the application, or is installed but cannot be loaded
 * (for example a native module built for another Node version). The message names the package
 * and the command that installs it.
 */
export class MissingDependencyError extends TracetrainError {
  /** The npm package that is missing, e.g. `pg`. */
  readonly packageName: string;

  constructor(packageName: string, message: string, options?: { cause?: unknown }) {
    super("missing_dependency", message, { package: packageName, install: `npm install ${packageName}` }, options);
    this.packageName = packageName;
  }
}
