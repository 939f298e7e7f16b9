import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { DatasetError, ValidationError, loadDataset } from "tracetrain";

const dir = mkdtempSync(join(tmpdir(), "tracetrain-dataset-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `content` (text or bytes) to a fresh file named `name` and returns its path. */
function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** The DatasetError `promise` rejects with. */
async function failure(promise: Promise<unknown>): Promise<DatasetError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DatasetError);
  expect(error).toBeInstanceOf(ValidationError);
  expect((error as DatasetError).code).toBe("validation");
  return error as DatasetError;
}

const Question = z.strictObject({ question: z.string(), answer: z.coerce.number() });

describe("loadDataset: valid files", () => {
  it("reads JSONL: one value per line, blank lines skipped, CRLF and a byte-order mark accepted", async () => {
    const path = file("ok.jsonl", '\uFEFF{"question":"1+1","answer":2}\r\n\r\n  \n{"question":"2+2","answer":4}\r\n"a bare string is a task too"\n');
    expect(await loadDataset(path)).toEqual([{ question: "1+1", answer: 2 }, { question: "2+2", answer: 4 }, "a bare string is a task too"]);
  });

  it("reads JSON: an array of rows, or an object with a tasks array", async () => {
    expect(await loadDataset(file("list.json", '[{"q":1},\n {"q":2}]'))).toEqual([{ q: 1 }, { q: 2 }]);
    expect(await loadDataset(file("holder.json", '{"name":"quiz","tasks":[{"q":1},{"q":2},{"q":3}]}'))).toEqual([{ q: 1 }, { q: 2 }, { q: 3 }]);
  });

  it("reads CSV as RFC 4180 writes it: quoted commas, doubled quotes, line breaks in quotes, CRLF, fields as strings", async () => {
    const path = file("ok.csv", '\uFEFFquestion,answer\r\n"say ""hi"", then go",1\r\n"two\r\nlines",2\r\n\r\nplain,\r\n');
    expect(await loadDataset(path)).toEqual([
      { question: 'say "hi", then go', answer: "1" },
      { question: "two\r\nlines", answer: "2" },
      { question: "plain", answer: "" },
    ]);
  });

  it("checks and converts each row with a schema", async () => {
    const path = file("typed.csv", "question,answer\n1+1,2\n2+2,4\n");
    const rows = await loadDataset(path, { schema: Question });
    expect(rows).toEqual([{ question: "1+1", answer: 2 }, { question: "2+2", answer: 4 }]);
  });

  it("takes the format from the options over the extension", async () => {
    expect(await loadDataset(file("rows.txt", "a,b\n1,2\n"), { format: "csv" })).toEqual([{ a: "1", b: "2" }]);
    expect(await loadDataset(file("rows.data", '{"a":1}\n{"a":2}\n'), { format: "jsonl" })).toEqual([{ a: 1 }, { a: 2 }]);
  });
});

describe("loadDataset: hostile files", () => {
  it("names the file, line and column of a JSONL line that is not JSON (line 7), and every other bad line", async () => {
    const lines = ['{"q":1}', '{"q":2}', "", '{"q":4}', '{"q":5}', '{"q":6}', '{"q": }', '{"q":8}', "{'q':9}"];
    const path = file("bad.jsonl", lines.join("\n"));
    const error = await failure(loadDataset(path));
    expect(error.message).toBe(`${path}:7:7: not JSON: expected a value, got "}" (and 1 more problem, at line 9)`);
    expect(error.line).toBe(7);
    expect(error.problems).toEqual([
      { line: 7, column: 7, message: 'not JSON: expected a value, got "}"' },
      { line: 9, column: 2, message: "not JSON: expected a double-quoted property name" },
    ]);
  });

  it("finds the line of a syntax error in a JSON file, which JSON.parse does not say", async () => {
    const path = file("bad.json", '[\n  {"q": 1},\n  {"q": 2}\n  {"q": 3}\n]');
    expect((await failure(loadDataset(path))).message).toBe(`${path}:4:3: not JSON: expected ',' or ']'`);
    const truncated = file("truncated.json", '[\n  {"q": "unterminated\n');
    expect((await failure(loadDataset(truncated))).message).toBe(`${truncated}:2:9: not JSON: string not closed on its line (a line break inside a string is written \\n)`);
    const tab = file("tab.jsonl", '{"q": "a\tb"}\n');
    expect((await failure(loadDataset(tab))).message).toBe(`${tab}:1:9: not JSON: a control character inside a string: escape it (\\t, \\u0000)`);
    const wrongShape = file("shape.json", '{"rows": []}');
    expect((await failure(loadDataset(wrongShape))).message).toBe(`${wrongShape}:1: expected an array of rows (or an object with a "tasks" array), got an object without a "tasks" array`);
  });

  it("survives JSON nested far deeper than a recursive parser could follow", async () => {
    const path = file("deep.json", `[${"[".repeat(200_000)}`);
    expect((await failure(loadDataset(path))).message).toBe(`${path}:1:200002: not JSON: unexpected end of the file`);
  });

  it("names where an unterminated CSV quote opened, and stray quotes", async () => {
    const open = file("open.csv", 'q,a\n"fine",1\nok,"never closed\n3,4\n');
    expect((await failure(loadDataset(open))).message).toBe(`${open}:3:4: unterminated quoted field: this opening quote is never closed`);
    const after = file("after.csv", 'q,a\n"quoted"x,1\n');
    expect((await failure(loadDataset(after))).message).toMatch(new RegExp(`^${escaped(after)}:2:9: text after the closing quote of a field`));
    const inside = file("inside.csv", 'q,a\nsay "hi",1\n');
    expect((await failure(loadDataset(inside))).message).toMatch(new RegExp(`^${escaped(inside)}:2:5: a quote inside an unquoted field`));
    const spaced = file("spaced.csv", 'q,a\nx, "y"\n');
    expect((await failure(loadDataset(spaced))).message).toContain("a space before the opening quote leaves the field unquoted");
  });

  it("reports CSV rows with the wrong number of fields, and a header with an empty or repeated name", async () => {
    const ragged = file("ragged.csv", "q,a\n1,2\n1,2,3\n4\n");
    const error = await failure(loadDataset(ragged));
    expect(error.message).toBe(`${ragged}:3: 3 fields, but the header has 2 columns (and 1 more problem, at line 4)`);
    expect((await failure(loadDataset(file("noname.csv", "q,,a\n1,2,3\n")))).message).toMatch(/noname\.csv:1: column 2 of the header has no name$/);
    expect((await failure(loadDataset(file("twice.csv", "q,a,q\n1,2,3\n")))).message).toMatch(/twice\.csv:1: the header names column "q" twice$/);
  });

  it("refuses an empty dataset instead of returning nothing", async () => {
    for (const [name, content] of [["empty.jsonl", ""], ["blank.jsonl", "\n \r\n"], ["empty.json", ""], ["empty-list.json", "[]"], ["empty.csv", ""], ["header-only.csv", "q,a\r\n"]] as const) {
      const path = file(name, content);
      expect((await failure(loadDataset(path))).message, name).toMatch(new RegExp(`^${escaped(path)}: no rows: the file (is empty|holds no data)$`));
    }
  });

  it("names the line and field of a row that fails the schema, a non-object row included", async () => {
    const path = file("typed.jsonl", '{"question":"1+1","answer":2}\n{"question":"2+2","answer":"four"}\n["not", "an", "object"]\n');
    const error = await failure(loadDataset(path, { schema: Question }));
    expect(error.message).toBe(`${path}:2: answer: Invalid input: expected number, received NaN (and 1 more problem, at line 3)`);
    expect(error.problems[1]).toEqual({ line: 3, message: "Invalid input: expected object, received array" });
    const csv = file("typed.csv", "question,answer,extra\n1+1,2,x\n");
    expect((await failure(loadDataset(csv, { schema: Question }))).message).toBe(`${csv}:2: Unrecognized key: "extra"`);
    const json = file("typed.json", '[\n  {"question": "a", "answer": 1},\n\n  {"question": 7, "answer": 1}\n]');
    expect((await failure(loadDataset(json, { schema: Question }))).message).toBe(`${json}:4: question: Invalid input: expected string, received number`);
  });

  it("names the line of bytes that are not UTF-8, a missing file and an unknown extension", async () => {
    const latin1 = file("latin1.jsonl", Buffer.concat([Buffer.from('{"q":"ok"}\n{"q":"caf'), Buffer.from([0xe9]), Buffer.from('"}\n')]));
    expect((await failure(loadDataset(latin1))).message).toBe(`${latin1}:2: not UTF-8 text`);
    const missing = join(dir, "missing.jsonl");
    expect((await failure(loadDataset(missing))).message).toBe(`${missing}: cannot read it: ENOENT: no such file or directory, open '${missing}'`);
    const text = file("tasks.txt", "a\n");
    expect((await failure(loadDataset(text))).message).toBe(`${text}: cannot tell the format from the extension ".txt": name the file .jsonl, .json or .csv, or pass { format }`);
  });

  it("refuses options it does not know", async () => {
    const path = file("opts.jsonl", "1\n");
    await expect(loadDataset(path, { format: "yaml" } as never)).rejects.toThrow(/invalid loadDataset options: format/);
    await expect(loadDataset(path, { schema: { parse: () => 1 } } as never)).rejects.toThrow(/schema: expected a zod schema/);
    await expect(loadDataset(path, { limit: 1 } as never)).rejects.toThrow(/Unrecognized key/);
  });
});

/** `p` escaped for a RegExp. */
function escaped(p: string): string {
  return p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
