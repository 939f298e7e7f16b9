/**
 * Readers of the values foreign OpenTelemetry spans carry. Attributes come from instrumentations
 * we do not control, in any shape, and structured values may arrive as JSON text (OTel attributes
 * cannot hold objects): no reader trusts a type, each returns undefined for what it does not expect.
 */
import type { JsonValue } from "../../types/index.js";
import { toJsonValue } from "../../types/index.js";

export type OtelAttributes = Readonly<Record<string, unknown>>;

/** An OTel span event, as far as the dialects read it. */
export interface OtelEventLike {
  name: string;
  attributes?: OtelAttributes | undefined;
}

/**
 * Something in a span's content that could not be read and was left out: where (the attribute or
 * event, and the message and part) and what. A message is never silently emptied: its readers
 * report here instead.
 */
export interface ContentIssue {
  /** The attribute or event name it was read from, e.g. `gen_ai.output.messages`. */
  key: string;
  /** Where in it and what, e.g. `message 0 (assistant) part 1: part type "audio_ref" is not read`. */
  problem: string;
}

/** Where issues go; `undefined` when the caller does not collect them. */
export type IssueSink = ContentIssue[] | undefined;

/** An OpenAI tool call; arguments are a JSON string on the wire. */
export function openAiToolCall(id: string | undefined, name: string | undefined, args: unknown): JsonValue {
  return { id: id ?? "", type: "function", function: { name: name ?? "", arguments: typeof args === "string" ? args : JSON.stringify(toJsonValue(args ?? {})) } };
}

/**
 * Groups flattened keys `prefix{i}.rest` by index: `[{rest: value}, …]` in index order. This is
 * how OTel's flat attributes carry lists of objects.
 */
export function indexedGroups(a: OtelAttributes, prefix: string): Record<string, unknown>[] {
  const groups = new Map<number, Record<string, unknown>>();
  for (const key in a) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    const dot = rest.indexOf(".");
    if (dot <= 0) continue;
    const index = Number(rest.slice(0, dot));
    if (!Number.isInteger(index) || index < 0) continue;
    let group = groups.get(index);
    if (!group) groups.set(index, (group = {}));
    group[rest.slice(dot + 1)] = a[key];
  }
  return [...groups.entries()].sort(([x], [y]) => x - y).map(([, group]) => group);
}

/** Parses a JSON string; anything else (or a string that is not JSON) is returned as is. */
export function parseJson(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const first = value.trimStart()[0];
  if (first !== "{" && first !== "[" && first !== '"') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/** A value as the text a model is sent: strings as they are, anything else as JSON. */
export function asText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(toJsonValue(value ?? null));
}

export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

export function bool(value: unknown): boolean | undefined {
  return typeof value === "boolean" ? value : undefined;
}

export function strings(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === "string") ? (value as string[]) : undefined;
}

export function arr(value: unknown): unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

/** The objects of a list (anything else is skipped). */
export function records(value: unknown): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const item of arr(value) ?? []) {
    const r = rec(item);
    if (r) out.push(r);
  }
  return out;
}

export function rec(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** A short description of a value for an issue (never the whole value: it may be huge). */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return value.length > 40 ? `the text "${value.slice(0, 40)}…"` : `the text "${value}"`;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return typeof value === "object" ? "an object" : typeof value;
}
