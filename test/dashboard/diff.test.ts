/**
 * The resources page's diffs, without a browser: the line diff against a brute-force check of its
 * optimality, how removals and additions pair up side by side, and each resource kind's comparison.
 */
import { describe, expect, it } from "vitest";
import { type DiffRow, MAX_LCS_CELLS, fieldDiff, foldUnchanged, lineDiff, resourcesDiff } from "../../src/dashboard/diff.js";

/** The rows as `=a`, `-a`, `+b`, `~a|b` strings, to compare whole diffs at a glance. */
const compact = (rows: readonly DiffRow[]) =>
  rows.map((row) => (row.kind === "same" ? `=${row.left.text}` : row.kind === "removed" ? `-${row.left.text}` : row.kind === "added" ? `+${row.right.text}` : `~${row.left.text}|${row.right.text}`));

/** LCS length by plain recursion with memo: the reference the diff's kept lines are checked against. */
function lcsLength(a: readonly string[], b: readonly string[]): number {
  const memo = new Map<string, number>();
  const go = (i: number, j: number): number => {
    if (i === a.length || j === b.length) return 0;
    const key = `${i},${j}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    const value = a[i] === b[j] ? go(i + 1, j + 1) + 1 : Math.max(go(i + 1, j), go(i, j + 1));
    memo.set(key, value);
    return value;
  };
  return go(0, 0);
}

/** A small deterministic generator, so the random cases are the same on every run. */
function lines(seed: number, count: number): string[] {
  let state = seed;
  return Array.from({ length: count }, () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return "abcd"[state % 4]!;
  });
}

describe("lineDiff", () => {
  it("keeps equal texts as same rows, numbered on both sides", () => {
    const rows = lineDiff("one\ntwo", "one\ntwo");
    expect(compact(rows)).toEqual(["=one", "=two"]);
    expect(rows[1]).toEqual({ kind: "same", left: { n: 2, text: "two" }, right: { n: 2, text: "two" } });
  });

  it("pairs a replaced line with its replacement, and keeps line numbers of each side", () => {
    const rows = lineDiff("You are a helper.\nAnswer briefly.\nBe polite.", "You are a helper.\nAnswer in one sentence.\nCite the room.\nBe polite.");
    expect(compact(rows)).toEqual(["=You are a helper.", "~Answer briefly.|Answer in one sentence.", "+Cite the room.", "=Be polite."]);
    expect(rows[2]).toEqual({ kind: "added", right: { n: 3, text: "Cite the room." } });
    expect(rows[3]).toEqual({ kind: "same", left: { n: 3, text: "Be polite." }, right: { n: 4, text: "Be polite." } });
  });

  it("shows a text from nothing as all added, and to nothing as all removed", () => {
    expect(compact(lineDiff("", "a\nb"))).toEqual(["+a", "+b"]);
    expect(compact(lineDiff("a\nb", ""))).toEqual(["-a", "-b"]);
    expect(lineDiff("", "")).toEqual([]);
  });

  it("reads \\r\\n line ends like \\n", () => {
    expect(compact(lineDiff("a\r\nb", "a\nb"))).toEqual(["=a", "=b"]);
  });

  it("keeps a longest common subsequence of lines, and rebuilds both texts, on random inputs", () => {
    for (let seed = 1; seed <= 60; seed++) {
      const a = lines(seed, seed % 9);
      const b = lines(seed * 7 + 3, (seed * 5) % 11);
      const rows = lineDiff(a.join("\n"), b.join("\n"));
      const left = rows.flatMap((row) => ("left" in row ? [row.left.text] : []));
      const right = rows.flatMap((row) => ("right" in row ? [row.right.text] : []));
      expect(left, `seed ${seed}`).toEqual(a);
      expect(right, `seed ${seed}`).toEqual(b);
      expect(rows.filter((row) => row.kind === "same").length, `seed ${seed}`).toBe(lcsLength(a, b));
    }
  });

  it("shows the middle of two texts too large to compare line by line as replaced, keeping their common head and tail", () => {
    const side = Math.ceil(Math.sqrt(MAX_LCS_CELLS)) + 1;
    const a = ["head", ...Array.from({ length: side }, (_, i) => `a${i}`), "tail"];
    const b = ["head", ...Array.from({ length: side }, (_, i) => `b${i}`), "tail"];
    const rows = lineDiff(a.join("\n"), b.join("\n"));
    expect(rows[0]!.kind).toBe("same");
    expect(rows.at(-1)!.kind).toBe("same");
    expect(rows.slice(1, -1).every((row) => row.kind === "changed")).toBe(true);
    expect(rows.length).toBe(side + 2);
  });
});

describe("foldUnchanged", () => {
  const text = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `l${from + i}`).join("\n");
  const shape = (items: ReturnType<typeof foldUnchanged>) => items.map((item) => ("folded" in item ? `…${item.folded}` : compact([item])[0]));

  it("keeps the context around a change and folds the rest, with nothing kept before the first change or after the last", () => {
    const rows = lineDiff(`${text(1, 10)}\nold\n${text(11, 20)}`, `${text(1, 10)}\nnew\n${text(11, 20)}`);
    expect(shape(foldUnchanged(rows, 2))).toEqual(["…8", "=l9", "=l10", "~old|new", "=l11", "=l12", "…8"]);
  });

  it("folds the middle of a long unchanged run between two changes, and never a single line", () => {
    const rows = lineDiff(`a\n${text(1, 6)}\nb`, `A\n${text(1, 6)}\nB`);
    expect(shape(foldUnchanged(rows, 2))).toEqual(["~a|A", "=l1", "=l2", "…2", "=l5", "=l6", "~b|B"]);
    const short = lineDiff(`a\n${text(1, 5)}\nb`, `A\n${text(1, 5)}\nB`);
    expect(shape(foldUnchanged(short, 2))).toEqual(["~a|A", "=l1", "=l2", "=l3", "=l4", "=l5", "~b|B"]);
  });
});

describe("fieldDiff", () => {
  it("compares fields in order, marks changes and fields on one side only, and never shows a key", () => {
    const rows = fieldDiff(
      { kind: "llm", baseUrl: "http://a/v1", model: "m", apiKey: "sk-old", policyVersion: 1 },
      { kind: "llm", baseUrl: "http://a/v1", model: "m", apiKey: "sk-new", policyVersion: 2, sampling: { temperature: 0.7 } },
    );
    expect(rows).toEqual([
      { field: "kind", before: "llm", after: "llm", changed: false },
      { field: "baseUrl", before: "http://a/v1", after: "http://a/v1", changed: false },
      { field: "model", before: "m", after: "m", changed: false },
      { field: "apiKey", before: "•••••• (set)", after: "•••••• (set)", changed: true },
      { field: "policyVersion", before: "1", after: "2", changed: true },
      { field: "sampling", before: undefined, after: '{"temperature":0.7}', changed: true },
    ]);
  });
});

describe("resourcesDiff", () => {
  const seed = { kind: "prompt_template", template: "Pick a room.\nAnswer with its id.", engine: "mustache" };
  const llm = { kind: "llm", baseUrl: "http://llm/v1", model: "m" };

  it("diffs a prompt template line by line, and leaves unchanged resources as same", () => {
    const changes = resourcesDiff({ prompt: seed, main: llm }, { prompt: { ...seed, template: "Pick a room that fits.\nAnswer with its id." }, main: llm });
    expect(changes.map((c) => [c.name, c.change])).toEqual([
      ["prompt", "changed"],
      ["main", "same"],
    ]);
    const prompt = changes[0]!;
    expect(prompt.body.type).toBe("lines");
    if (prompt.body.type === "lines") expect(compact(prompt.body.rows)).toEqual(["~Pick a room.|Pick a room that fits.", "=Answer with its id."]);
    expect(changes[1]!.body.type).toBe("fields");
  });

  it("pretty-prints JSON resources before diffing, so one changed key is one changed line", () => {
    const [change] = resourcesDiff({ shots: { kind: "json", value: { k: 3, examples: ["a", "b"] } } }, { shots: { kind: "json", value: { k: 4, examples: ["a", "b"] } } });
    expect(change!.change).toBe("changed");
    if (change!.body.type !== "lines") throw new Error("expected a line diff");
    expect(compact(change!.body.rows).filter((row) => !row.startsWith("="))).toEqual(['~  "k": 3,|  "k": 4,']);
  });

  it("names added and removed resources, and a first version as all added", () => {
    const changes = resourcesDiff({ old: { kind: "json", value: 1 } }, { main: llm });
    expect(changes.map((c) => [c.name, c.change, c.kinds.before, c.kinds.after])).toEqual([
      ["main", "added", undefined, "llm"],
      ["old", "removed", "json", undefined],
    ]);
    expect(resourcesDiff(undefined, { prompt: seed }).map((c) => c.change)).toEqual(["added"]);
  });

  it("compares a resource whose kind changed as its whole record, with any key masked", () => {
    const [change] = resourcesDiff({ main: { ...llm, apiKey: "sk-secret" } }, { main: { kind: "json", value: "x" } });
    expect(change!.change).toBe("changed");
    if (change!.body.type !== "lines") throw new Error("expected a line diff");
    const text = compact(change!.body.rows).join("\n");
    expect(text).toContain('"kind": "llm"');
    expect(text).toContain('"kind": "json"');
    expect(text).not.toContain("sk-secret");
  });
});
