import type { JsonValue } from "./index.js";

const MAX_DEPTH = 32;

/**
 * Any value as JSON that is safe to store as a span attribute. Agents hand the tracer whatever
 * they have — class instances (LangChain messages), Errors, Dates, Maps, BigInts, cycles — and
 * recording must never throw into the agent, so this converts instead of rejecting: `toJSON()`
 * is honoured, Errors become `{name, message}`, cycles and over-deep values become markers,
 * functions and symbols are left out.
 */
export function toJsonValue(value: unknown): JsonValue {
  return convert(value, 0, new Set());
}

function convert(value: unknown, depth: number, seen: Set<object>): JsonValue {
  switch (typeof value) {
    case "string":
      // Invalid Unicode (a lone surrogate) would be rejected by the store; replace it here instead.
      return value.isWellFormed() ? value : value.toWellFormed();
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "bigint":
      return value.toString();
    case "undefined":
    case "function":
    case "symbol":
      return null;
  }
  if (value === null) return null;
  const object = value as object;
  if (seen.has(object)) return "[Circular]";
  if (depth >= MAX_DEPTH) return "[Too deep]";
  seen.add(object);
  try {
    return convertObject(object, depth, seen);
  } finally {
    seen.delete(object);
  }
}

function convertObject(object: object, depth: number, seen: Set<object>): JsonValue {
  if (Array.isArray(object)) return object.map((item) => convert(item, depth + 1, seen));
  if (object instanceof Error) return { name: object.name, message: object.message };
  if (object instanceof Date) return Number.isNaN(object.getTime()) ? null : object.toISOString();
  if (object instanceof Map) return convert(Object.fromEntries(object), depth + 1, seen);
  if (object instanceof Set) return convert([...object], depth + 1, seen);
  if (ArrayBuffer.isView(object)) return `[${object.constructor.name} ${object.byteLength} bytes]`;
  const toJSON = (object as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") {
    try {
      return convert(toJSON.call(object), depth + 1, seen);
    } catch {
      return `[${object.constructor?.name ?? "object"}: toJSON() threw]`;
    }
  }
  const out: Record<string, JsonValue> = {};
  for (const key of Object.keys(object)) {
    const child = (object as Record<string, unknown>)[key];
    if (child === undefined || typeof child === "function" || typeof child === "symbol") continue;
    const value = convert(child, depth + 1, seen);
    // Define rather than assign: assigning `__proto__` would set the prototype, not the key.
    if (key === "__proto__") Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else out[key] = value;
  }
  return out;
}
