/**
 * Typed reads of span attributes. A value of the wrong shape is reported to the diagnostics and
 * read as absent — adapters never throw on what a span holds.
 *
 * Structured values may also arrive as JSON text: OpenTelemetry attributes cannot hold objects, so
 * the GenAI conventions allow `gen_ai.input.messages` and friends as JSON strings, and spans that
 * came through OTLP carry them that way.
 */
import { describeValue } from "../llm/index.js";
import type { ChatMessage, JsonValue } from "../types/index.js";
import type { DiagnosticsCollector } from "./diagnostics.js";

const EMPTY: Readonly<Record<string, unknown>> = Object.freeze({});

/** Reads one span's attributes, reporting malformed values against its span id. */
export class AttributeReader {
  readonly attributes: Readonly<Record<string, unknown>>;

  /** Reads `attributes` of span `spanId`; problems go to `diagnostics` (or nowhere when undefined). */
  constructor(
    attributes: Readonly<Record<string, unknown>> | undefined,
    private readonly spanId: string,
    private readonly diagnostics: DiagnosticsCollector | undefined,
  ) {
    this.attributes = attributes ?? EMPTY;
  }

  /** Whether the attribute is present (and not null). */
  has(key: string): boolean {
    return this.attributes[key] !== undefined && this.attributes[key] !== null;
  }

  private bad(key: string, problem: string): undefined {
    this.diagnostics?.malformed(this.spanId, key, problem);
    return undefined;
  }

  /** A string (empty strings read as absent: an empty name or id identifies nothing). */
  string(key: string): string | undefined {
    const value = this.attributes[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string") return this.bad(key, `expected a string, got ${describeValue(value)}`);
    return value.length > 0 ? value : undefined;
  }

  /** A boolean. */
  boolean(key: string): boolean | undefined {
    const value = this.attributes[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "boolean") return this.bad(key, `expected true or false, got ${describeValue(value)}`);
    return value;
  }

  /** A finite number. */
  finiteNumber(key: string): number | undefined {
    const value = this.attributes[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "number" || !Number.isFinite(value)) return this.bad(key, `expected a finite number, got ${describeValue(value)}`);
    return value;
  }

  /** A policy version: a string or a whole number. */
  policyVersion(key: string): string | number | undefined {
    const value = this.attributes[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value === "string" && value.length > 0) return value;
    if (typeof value === "number" && Number.isInteger(value)) return value;
    return this.bad(key, `expected a string or a whole number, got ${describeValue(value)}`);
  }

  /** One list of token ids (non-negative integers). */
  tokenIds(key: string): number[] | undefined {
    const value = jsonText(this.attributes[key]);
    if (value === undefined || value === null) return undefined;
    const problem = tokenIdsProblem(value);
    return problem === undefined ? (value as number[]) : this.bad(key, problem);
  }

  /** One list of token ids per choice; a choice without ids may be `null`. */
  tokenIdLists(key: string): Array<number[] | undefined> | undefined {
    return this.lists(key, tokenIdsProblem);
  }

  /** One list of logprobs per choice; a choice without logprobs may be `null`. */
  numberLists(key: string): Array<number[] | undefined> | undefined {
    return this.lists(key, numbersProblem);
  }

  private lists(key: string, check: (value: unknown) => string | undefined): Array<number[] | undefined> | undefined {
    const value = jsonText(this.attributes[key]);
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) return this.bad(key, `expected one list per choice, got ${describeValue(value)}`);
    const out: Array<number[] | undefined> = new Array<number[] | undefined>(value.length);
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === null || item === undefined) {
        out[i] = undefined;
        continue;
      }
      const problem = check(item);
      if (problem !== undefined) return this.bad(key, `choice ${i}: ${problem}`);
      out[i] = item as number[];
    }
    return out;
  }

  /** A list of OpenAI chat messages. */
  messages(key: string): ChatMessage[] | undefined {
    const value = jsonText(this.attributes[key]);
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) return this.bad(key, `expected a list of messages, got ${describeValue(value)}`);
    for (let i = 0; i < value.length; i++) {
      const problem = messageProblem(value[i]);
      if (problem !== undefined) return this.bad(key, `message ${i}: ${problem}`);
    }
    return value as ChatMessage[];
  }

  /** A list of JSON values (tool definitions). */
  jsonArray(key: string): JsonValue[] | undefined {
    const value = jsonText(this.attributes[key]);
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) return this.bad(key, `expected a list, got ${describeValue(value)}`);
    return value as JsonValue[];
  }

  /** A list of strings or nulls (finish reasons per choice). */
  stringList(key: string): Array<string | undefined> | undefined {
    const value = jsonText(this.attributes[key]);
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) return this.bad(key, `expected a list, got ${describeValue(value)}`);
    return value.map((v: unknown) => (typeof v === "string" ? v : undefined));
  }

  /** Any JSON value, as recorded. */
  json(key: string): JsonValue | undefined {
    const value = this.attributes[key];
    return value === undefined ? undefined : (value as JsonValue);
  }
}

/** Structured values recorded as JSON text are parsed; anything else is returned as it is. */
function jsonText(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const first = value.trimStart()[0];
  if (first !== "[" && first !== "{") return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

function tokenIdsProblem(value: unknown): string | undefined {
  if (!Array.isArray(value)) return `expected a list of token ids, got ${describeValue(value)}`;
  for (let i = 0; i < value.length; i++) {
    const id: unknown = value[i];
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) return `token ${i} is ${describeValue(id)}, not a non-negative integer`;
  }
  return undefined;
}

function numbersProblem(value: unknown): string | undefined {
  if (!Array.isArray(value)) return `expected a list of numbers, got ${describeValue(value)}`;
  for (let i = 0; i < value.length; i++) {
    const n: unknown = value[i];
    if (typeof n !== "number" || !Number.isFinite(n)) return `item ${i} is ${describeValue(n)}, not a finite number`;
  }
  return undefined;
}

/** The checks of `ChatMessageSchema`, by hand: this runs on every LLM span. */
function messageProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return `expected an object, got ${describeValue(value)}`;
  const m = value as Record<string, unknown>;
  if (typeof m.role !== "string" || m.role.length === 0) return "role must be a non-empty string";
  const content = m.content;
  if (content !== undefined && content !== null && typeof content !== "string" && !Array.isArray(content)) return `content must be text, a list of parts or null, got ${describeValue(content)}`;
  if (m.name !== undefined && typeof m.name !== "string") return "name must be a string";
  if (m.tool_calls !== undefined && !Array.isArray(m.tool_calls)) return "tool_calls must be a list";
  if (m.tool_call_id !== undefined && typeof m.tool_call_id !== "string") return "tool_call_id must be a string";
  return undefined;
}
