import { z } from "zod";

/** Any value that survives a JSON round trip unchanged. */
export type JsonValue = z.core.util.JSONType;
/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** Deeper than this is almost always a cycle or hostile input; reject it instead of overflowing the stack. */
const MAX_DEPTH = 64;

type PathSegment = string | number;

/**
 * Text must be valid Unicode: a lone UTF-16 surrogate cannot be stored as UTF-8 (SQLite would
 * silently turn it into U+FFFD, PostgreSQL refuses it), so every backend rejects it the same way.
 */
export const LONE_SURROGATE = "contains a lone UTF-16 surrogate, which is not valid Unicode text";

/** Where the first non-JSON value sits inside a value, and what is wrong with it. */
export interface JsonProblem {
  path: PathSegment[];
  message: string;
}

function isPlainObject(v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Whether `v` is JSON: the fast check that runs on every span attribute, so it allocates nothing.
 * `undefined` object properties are allowed (they are dropped on storage, as `JSON.stringify` does).
 */
function isJson(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case "string":
      return v.isWellFormed();
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(v);
    case "object": {
      if (v === null) return true;
      if (depth >= MAX_DEPTH) return false;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!isJson(v[i], depth + 1)) return false;
        return true;
      }
      if (!isPlainObject(v)) return false;
      for (const key in v) {
        const child = (v as Record<string, unknown>)[key];
        if (!key.isWellFormed() || (child !== undefined && !isJson(child, depth + 1))) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/** The slow path, run only once `isJson` said no: walks again to name the first bad value and its path. */
function locateProblem(v: unknown, path: PathSegment[], depth: number): JsonProblem | null {
  const here = (message: string): JsonProblem => ({ path: [...path], message });
  switch (typeof v) {
    case "string":
      return v.isWellFormed() ? null : here(LONE_SURROGATE);
    case "boolean":
      return null;
    case "number":
      return Number.isFinite(v) ? null : here(`expected a finite number, got ${String(v)}`);
    case "object": {
      if (v === null) return null;
      if (depth >= MAX_DEPTH) return here(`nested deeper than ${MAX_DEPTH} levels (is the value circular?)`);
      if (!Array.isArray(v) && !isPlainObject(v)) {
        return here(`expected a plain object, got ${(v as { constructor?: { name?: string } }).constructor?.name ?? "object"}`);
      }
      const badKey = Array.isArray(v) ? undefined : Object.keys(v).find((key) => !key.isWellFormed());
      if (badKey !== undefined) return here(`key ${JSON.stringify(badKey)} ${LONE_SURROGATE}`);
      const entries: Array<[PathSegment, unknown]> = Array.isArray(v)
        ? v.map((item, i) => [i, item])
        : Object.entries(v).filter(([, child]) => child !== undefined);
      for (const [key, child] of entries) {
        path.push(key);
        const problem = locateProblem(child, path, depth + 1);
        path.pop();
        if (problem) return problem;
      }
      return null;
    }
    default:
      return here(`expected a JSON value, got ${typeof v}`);
  }
}

/** The first problem that keeps `value` from being JSON, or `null` if it is JSON. Allocates nothing when it is. */
export function findJsonProblem(value: unknown): JsonProblem | null {
  if (isJson(value, 0)) return null;
  return locateProblem(value, [], 0) ?? { path: [], message: "expected a JSON value" };
}

/**
 * A deep copy of a JSON-shaped value (any record the schemas accept), dropping `undefined`
 * properties exactly as `JSON.stringify` does. Stores copy what they keep and what they hand out
 * with this, so stored data never shares objects with callers. Several times faster than a JSON
 * round trip or `structuredClone`.
 */
export function cloneJson<T>(value: T): T {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const out: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = cloneJson(value[i]);
    return out as T;
  }
  const out: Record<string, unknown> = {};
  for (const key in value) {
    const child: unknown = value[key];
    if (child === undefined) continue;
    const copy = typeof child === "object" && child !== null ? cloneJson(child) : child;
    // `out.__proto__ = x` would set the prototype instead of the key JSON.parse made an own property.
    if (key === "__proto__") Object.defineProperty(out, key, { value: copy, enumerable: true, writable: true, configurable: true });
    else out[key] = copy;
  }
  return out as T;
}

type IssueSink = { addIssue(issue: { code: "custom"; message: string; path: PathSegment[]; input: unknown }): void };

function reportProblem(ctx: IssueSink, problem: JsonProblem, input: unknown): void {
  ctx.addIssue({ code: "custom", message: problem.message, path: problem.path, input });
}

function describe(value: unknown): string {
  if (value === null) return "null";
  return Array.isArray(value) ? "array" : typeof value;
}

/**
 * Any JSON value. Checked in place, not copied: validation runs on every span attribute, the
 * hottest payload in the system. Stores copy (or serialize) what they keep before a call returns,
 * which also drops `undefined` properties the way `JSON.stringify` does.
 */
export const JsonValueSchema = z.custom<JsonValue>().superRefine((value, ctx) => {
  const problem = findJsonProblem(value);
  if (problem) reportProblem(ctx, problem, value);
});

/** A JSON object (string keys, JSON values), checked in place like {@link JsonValueSchema}. */
export const JsonObjectSchema = z.custom<JsonObject>().superRefine((value, ctx) => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    ctx.addIssue({ code: "custom", message: `expected an object, got ${describe(value)}`, input: value });
    return;
  }
  const problem = findJsonProblem(value);
  if (problem) reportProblem(ctx, problem, value);
});

/** JSON with object keys sorted, so equal values compare and digest equally whatever their key order. */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k]!)}`).join(",")}}`;
}
