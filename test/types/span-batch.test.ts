/**
 * parseSpanBatch has a hand-written fast path; SpanInputSchema is the definition. Over every
 * single-field mutation of a valid span and thousands of random combinations, the two must agree:
 * same output when the schema accepts, a ValidationError when it rejects.
 */
import { describe, expect, it } from "vitest";
import { SpanInputSchema, parseSpanBatch } from "tracetrain/schemas";
import { ValidationError } from "tracetrain";

const VALID = {
  rolloutId: "ro-1",
  attemptId: "at-1",
  traceId: "0123456789abcdef0123456789abcdef",
  spanId: "0123456789abcdef",
  name: "gen_ai.chat",
  startTime: 10,
  endTime: 20,
};

class Custom {
  a = 1;
}
const nullProto = Object.assign(Object.create(null) as object, { a: 1 });
const validEvent = { name: "e", time: 1 };

/** Candidate values per field: valid, edge and hostile. `undefined` means "leave the key out". */
const CANDIDATES: Record<string, unknown[]> = {
  rolloutId: ["ro-1", "a", "x".repeat(128), "x".repeat(129), "", "a b", "-a", "é", 5, null, undefined],
  attemptId: ["at-1", "A.b:c_d-e", "", "../x", 7, undefined],
  traceId: [VALID.traceId, "f".repeat(32), "0".repeat(32), "0".repeat(31) + "1", "F".repeat(32), "abc", 1, undefined],
  spanId: [VALID.spanId, "0".repeat(16), "0".repeat(15) + "1", "ABCDEF0123456789", "", null],
  parentId: [undefined, null, "00000000000000aa", "0".repeat(16), "zz", 0],
  name: ["x", "a".repeat(1024), "a".repeat(1025), "", 5, undefined, null],
  kind: [undefined, "internal", "client", "server", "producer", "consumer", "sideways", null, 1],
  startTime: [0, -0, 1.5, 10, -1, Number.NaN, Number.POSITIVE_INFINITY, "1", null, undefined],
  endTime: [20, 10, 9, 1e15, Number.NaN, -5, undefined],
  status: [
    undefined,
    { code: "ok" },
    { code: "error", message: "m" },
    { code: "unset", message: "" },
    { code: "error", message: undefined },
    { code: "error", message: 5 },
    { code: "bad" },
    { code: "ok", extra: 1 },
    {},
    null,
    "ok",
  ],
  attributes: [
    undefined,
    {},
    { a: 1, b: "s", c: true, d: null, e: [1, "x", { f: [null] }] },
    { a: undefined, b: 1 },
    { a: Number.NaN },
    { a: () => 1 },
    { a: new Date(0) },
    { a: new Map() },
    { deep: { deeper: { deepest: Number.NEGATIVE_INFINITY } } },
    [],
    null,
    "attrs",
    new Custom(),
    nullProto,
  ],
  events: [
    undefined,
    [],
    [validEvent],
    [{ ...validEvent, attributes: { x: [1, 2] } }],
    [{ ...validEvent, attributes: undefined }],
    [{ name: "", time: 1 }],
    [{ name: "e", time: -1 }],
    [{ name: "e" }],
    [{ ...validEvent, extra: 1 }],
    [{ ...validEvent, attributes: { bad: Number.NaN } }],
    [null],
    "events",
    new Array(10_001).fill(validEvent),
    new Array(10_000).fill(validEvent),
  ],
  links: [
    undefined,
    [],
    [{ traceId: VALID.traceId, spanId: VALID.spanId }],
    [{ traceId: VALID.traceId, spanId: VALID.spanId, attributes: { k: "v" } }],
    [{ traceId: "x", spanId: VALID.spanId }],
    [{ traceId: VALID.traceId, spanId: VALID.spanId, extra: true }],
    {},
  ],
  unknownKey: [undefined, 1, null],
  sequence: [undefined, 3],
};

function build(choices: Record<string, unknown>): Record<string, unknown> {
  const span: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(choices)) if (value !== undefined) span[key] = value;
  return span;
}

/** The schema's verdict, with its output copied the way parseSpanBatch copies. */
function oracle(span: unknown): { ok: true; value: unknown } | { ok: false } {
  const result = SpanInputSchema.safeParse(span);
  return result.success ? { ok: true, value: JSON.parse(JSON.stringify(result.data)) } : { ok: false };
}

function check(span: unknown): void {
  const expected = oracle(span);
  let actual: { ok: true; value: unknown } | { ok: false; error: unknown };
  try {
    actual = { ok: true, value: JSON.parse(JSON.stringify(parseSpanBatch([span])[0])) };
  } catch (error) {
    actual = { ok: false, error };
  }
  const label = JSON.stringify(span, (_k, v: unknown) => (typeof v === "function" ? "<fn>" : v))?.slice(0, 300);
  expect(actual.ok, label).toBe(expected.ok);
  if (actual.ok && expected.ok) expect(actual.value, label).toEqual(expected.value);
  if (!actual.ok) expect(actual.error, label).toBeInstanceOf(ValidationError);
}

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("parseSpanBatch agrees with SpanInputSchema", () => {
  it("on every single-field change of a valid span", () => {
    check(VALID);
    for (const [field, values] of Object.entries(CANDIDATES)) {
      for (const value of values) check(build({ ...VALID, [field]: value }));
    }
  });

  it("on 5,000 random combinations", () => {
    const random = mulberry32(20261128);
    const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)]!;
    for (let i = 0; i < 5000; i++) {
      const choices: Record<string, unknown> = { ...VALID };
      // Change a few fields at a time, so most spans stay close to valid and reach the deep checks.
      const fields = Object.keys(CANDIDATES);
      for (let k = 0, n = 1 + Math.floor(random() * 3); k < n; k++) {
        const field = pick(fields);
        choices[field] = pick(CANDIDATES[field]!);
      }
      check(build(choices));
    }
  });

  it("on values that are not spans at all", () => {
    for (const value of [null, undefined, 1, "span", [], [VALID], new Custom(), Object.assign(Object.create(null) as object, VALID)]) {
      check(value);
    }
  });

  it("rejects a batch that is not an array or is too large, naming the problem", () => {
    expect(() => parseSpanBatch({ 0: VALID })).toThrow(ValidationError);
    expect(() => parseSpanBatch(new Array(100_001).fill(VALID))).toThrow(/too big|at most|100000/i);
  });

  it("names the span and field of the first bad span, even after good ones", () => {
    try {
      parseSpanBatch([VALID, VALID, { ...VALID, traceId: "nope" }]);
      expect.unreachable();
    } catch (error) {
      expect((error as ValidationError).issues[0]!.path).toBe("[2].traceId");
    }
  });

  it("returns copies that share nothing with the input", () => {
    const input = { ...VALID, attributes: { list: [1] }, events: [{ name: "e", time: 1, attributes: { a: { b: 1 } } }] };
    const [parsed] = parseSpanBatch([input]);
    (input.attributes.list as number[]).push(2);
    input.events[0]!.attributes.a.b = 2;
    expect(parsed!.attributes).toEqual({ list: [1] });
    expect(parsed!.events[0]!.attributes).toEqual({ a: { b: 1 } });
  });
});
