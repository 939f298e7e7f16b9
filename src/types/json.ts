import { z } from "zod";

/** Any value that survives a JSON round trip unchanged. */
export type JsonValue = z.core.util.JSONType;
/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** Deeper than this is almost always a cycle or hostile input; reject it instead of overflowing the stack. */
const MAX_DEPTH = 64;

type PathSegment = string | number;

interface JsonProblem {
  path: PathSegment[];
  message: string;
}

/**
 * Validates `value` as JSON and returns a normalized, deep-frozen copy.
 *
 * Why a hand-written walk rather than `z.json()`: spans carry dozens of attributes and the store
 * validates every one of them; this walk is about twice as fast, copies in the same pass (so a
 * caller mutating its object later cannot change stored data) and reports the exact sub-path of
 * the first bad value. `undefined` object properties are dropped, exactly as `JSON.stringify`
 * does, so every backend stores the same thing.
 */
export function normalizeJson(value: unknown): { ok: true; value: JsonValue } | { ok: false; problem: JsonProblem } {
  const path: PathSegment[] = [];
  let problem: JsonProblem | undefined;

  const fail = (message: string): undefined => {
    problem = { path: [...path], message };
    return undefined;
  };

  const walk = (v: unknown, depth: number): JsonValue | undefined => {
    if (v === null || typeof v === "string" || typeof v === "boolean") return v;
    if (typeof v === "number") {
      return Number.isFinite(v) ? v : fail(`expected a finite number, got ${String(v)}`);
    }
    if (typeof v !== "object") return fail(`expected a JSON value, got ${typeof v}`);
    if (depth >= MAX_DEPTH) return fail(`nested deeper than ${MAX_DEPTH} levels (is the value circular?)`);
    if (Array.isArray(v)) {
      const out: JsonValue[] = new Array(v.length);
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        const item = walk(v[i], depth + 1);
        if (item === undefined) return undefined;
        out[i] = item;
        path.pop();
      }
      return Object.freeze(out) as JsonValue[];
    }
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      const kind = (v as { constructor?: { name?: string } }).constructor?.name ?? "object";
      return fail(`expected a plain object, got ${kind}`);
    }
    const out: JsonObject = {};
    for (const key of Object.keys(v)) {
      const raw = (v as Record<string, unknown>)[key];
      if (raw === undefined) continue;
      path.push(key);
      const item = walk(raw, depth + 1);
      if (item === undefined) return undefined;
      out[key] = item;
      path.pop();
    }
    return Object.freeze(out);
  };

  const result = walk(value, 0);
  if (result === undefined) {
    return { ok: false, problem: problem ?? { path: [], message: "expected a JSON value, got undefined" } };
  }
  return { ok: true, value: result };
}

/** Any JSON value. Parsing returns a normalized, frozen copy (see {@link normalizeJson}). */
export const JsonValueSchema = z.unknown().transform((value, ctx): JsonValue => {
  const result = normalizeJson(value);
  if (result.ok) return result.value;
  ctx.addIssue({ code: "custom", message: result.problem.message, path: result.problem.path, input: value });
  return z.NEVER;
});

/** A JSON object (string keys, JSON values). Parsing returns a normalized, frozen copy. */
export const JsonObjectSchema = z.unknown().transform((value, ctx): JsonObject => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    ctx.addIssue({ code: "custom", message: `expected an object, got ${describe(value)}`, input: value });
    return z.NEVER;
  }
  const result = normalizeJson(value);
  if (result.ok) return result.value as JsonObject;
  ctx.addIssue({ code: "custom", message: result.problem.message, path: result.problem.path, input: value });
  return z.NEVER;
});

function describe(value: unknown): string {
  if (value === null) return "null";
  return Array.isArray(value) ? "array" : typeof value;
}
