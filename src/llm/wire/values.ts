/**
 * Readers of untrusted JSON values. Payloads come from servers and agents we do not control (vLLM,
 * proxies, half-compatible servers, hand-written requests), so no wire codec trusts a field's type:
 * each reader returns undefined (or an empty list) for anything that is not what it expects.
 */
import type { JsonValue } from "../../types/index.js";

export type Rec = Record<string, unknown>;

export function isRecord(value: unknown): value is Rec {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

export function int(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) ? value : undefined;
}

export function bool(value: unknown): boolean | undefined {
  return typeof value === "boolean" ? value : undefined;
}

export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Token ids: an array of non-negative integers (an empty array counts: a choice may generate none). */
export function tokenIds(value: unknown): number[] | undefined {
  if (!Array.isArray(value)) return undefined;
  for (const id of value) if (typeof id !== "number" || !Number.isInteger(id) || id < 0) return undefined;
  return value as number[];
}

/** Numbers only, or undefined when any entry is not a finite number (a gap would misalign tokens). */
export function numbers(values: unknown[]): number[] | undefined {
  const out: number[] = [];
  for (const value of values) {
    const n = num(value);
    if (n === undefined) return undefined;
    out.push(n);
  }
  return out;
}

export function stopSequences(value: unknown): string[] | undefined {
  if (typeof value === "string") return [value];
  if (!Array.isArray(value)) return undefined;
  const stops = value.filter((s): s is string => typeof s === "string");
  return stops.length > 0 ? stops : undefined;
}

/** Serialised JSON of any value, never throwing (cycles, BigInts). */
export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "";
  } catch {
    return String(value);
  }
}

/**
 * Runs a converter, falling back when a hostile payload still manages to throw (a getter that
 * throws, a Proxy): recording must never break the agent's call.
 */
export function guarded<T>(fn: () => T, fallback: () => T): T {
  try {
    return fn();
  } catch {
    return fallback();
  }
}

/** Values from payloads go into span attributes, which convert anything safely on the way in. */
export function asJson(value: unknown): JsonValue {
  return value as JsonValue;
}

/** Appends without spreading into arguments, which overflows the stack for very long lists. */
export function append<T>(target: T[], values: readonly T[]): void {
  for (const value of values) target.push(value);
}

/** The values of a map keyed by choice or item index, in index order. */
export function byIndex<T>(map: Map<number, T>): T[] {
  return [...map.entries()].sort((a, b) => a[0] - b[0]).map(([, value]) => value);
}
