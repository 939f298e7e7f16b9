/**
 * Datasets from files: JSONL, JSON and CSV, read one way for the API and the command line, with
 * every problem reported as `file:line: what is wrong`.
 */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { z } from "zod";
import { DatasetError, type DatasetProblem, type JsonValue, parseOrThrow, toValidationIssues } from "../types/index.js";
import { CsvSyntaxError, parseCsv } from "./csv.js";
import { hasMethods } from "./has-methods.js";
import { lineAndColumn, scanJson } from "./json-scan.js";

export const DATASET_FORMATS = ["jsonl", "json", "csv"] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

/** File extensions and their formats. */
const EXTENSIONS: Record<string, DatasetFormat> = { ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv" };

/** A problem list is cut here: a broken file must not produce a huge error. */
const MAX_PROBLEMS = 20;

export const DatasetOptionsSchema = z.strictObject({
  /**
   * `"jsonl"`: one JSON value per line. `"json"`: an array of rows, or an object with a `"tasks"`
   * array. `"csv"`: a header row, then one row per line, each an object of strings keyed by the
   * header's names.
   * @default from the extension: .jsonl or .ndjson, .json, .csv
   */
  format: z.enum(DATASET_FORMATS).optional(),
  /**
   * A zod schema each row must pass; rows come back as its output, so `z.coerce.number()` turns a
   * CSV field into a number. A row that fails it is a problem named by line and field.
   * @default none: any JSON value is a row
   */
  schema: z.custom<z.ZodType>((value) => hasMethods(value, ["safeParseAsync"]), "expected a zod schema").optional(),
});

export type DatasetOptions = z.input<typeof DatasetOptionsSchema>;

interface Row {
  line: number;
  value: JsonValue;
}

/**
 * Reads a dataset file: JSONL, JSON or CSV (chosen by the extension, or `options.format`), UTF-8
 * with or without a byte-order mark, LF or CRLF line ends; blank lines are skipped. With
 * `options.schema` every row is checked (and converted) by it.
 *
 * Throws a {@link DatasetError} (a `ValidationError`) whose message reads `file:line: what is
 * wrong` — a line that is not JSON, an unterminated CSV quote, a row that fails the schema (naming
 * the field) — and whose `problems` list every problem found (up to 20). A file without a single
 * row is an error too, never an empty dataset.
 *
 * @example
 * const tasks = await loadDataset("tasks.csv", { schema: z.object({ question: z.string(), answer: z.coerce.number() }) });
 */
export async function loadDataset(path: string, options?: DatasetOptions & { schema?: undefined }): Promise<JsonValue[]>;
export async function loadDataset<S extends z.ZodType>(path: string, options: DatasetOptions & { schema: S }): Promise<Array<z.output<S>>>;
export async function loadDataset(path: string, options: DatasetOptions = {}): Promise<unknown[]> {
  const { format = formatOf(path), schema } = parseOrThrow(DatasetOptionsSchema, options, "loadDataset options");
  const text = decode(path, await readBytes(path));
  const rows = format === "jsonl" ? jsonlRows(path, text) : format === "json" ? jsonRows(path, text) : csvRows(path, text);
  if (rows.length === 0) throw new DatasetError(path, [{ message: `no rows: ${text.trim() === "" ? "the file is empty" : "the file holds no data"}` }]);
  return schema === undefined ? rows.map((row) => row.value) : checkRows(path, rows, schema);
}

function formatOf(path: string): DatasetFormat {
  const format = EXTENSIONS[extname(path).toLowerCase()];
  if (format === undefined) {
    throw new DatasetError(path, [{ message: `cannot tell the format from the extension "${extname(path)}": name the file .jsonl, .json or .csv, or pass { format }` }]);
  }
  return format;
}

async function readBytes(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new DatasetError(path, [{ message: `cannot read it: ${error instanceof Error ? error.message : String(error)}` }]);
  }
}

/** Strict UTF-8 (a byte-order mark is dropped); the first line with a bad byte is named. */
function decode(path: string, bytes: Buffer): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    let line = 1;
    for (let start = 0; start < bytes.length; line++) {
      const end = bytes.indexOf(0x0a, start);
      const slice = bytes.subarray(start, end < 0 ? bytes.length : end);
      if (!isUtf8(slice)) break;
      start = end < 0 ? bytes.length : end + 1;
    }
    throw new DatasetError(path, [{ line, message: "not UTF-8 text" }]);
  }
}

function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function jsonlRows(path: string, text: string): Row[] {
  const rows: Row[] = [];
  const problems: DatasetProblem[] = [];
  let total = 0;
  text.split(/\r\n|\n|\r/).forEach((source, index) => {
    if (source.trim() === "") return;
    try {
      rows.push({ line: index + 1, value: JSON.parse(source) as JsonValue });
    } catch (error) {
      total++;
      if (problems.length < MAX_PROBLEMS) problems.push(jsonProblem(source, error, index + 1));
    }
  });
  if (problems.length > 0) throw new DatasetError(path, problems, total);
  return rows;
}

/** Where in `source` (one line, or the whole file from `firstLine`) JSON.parse failed, and why. */
function jsonProblem(source: string, error: unknown, firstLine: number): DatasetProblem {
  const found = scanJson(source);
  if (found === undefined) return { line: firstLine, message: `not JSON: ${error instanceof Error ? error.message : String(error)}` };
  const { line, column } = lineAndColumn(source, found.offset);
  return { line: firstLine + line - 1, column, message: `not JSON: ${found.message}` };
}

function jsonRows(path: string, text: string): Row[] {
  if (text.trim() === "") return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DatasetError(path, [jsonProblem(text, error, 1)]);
  }
  const list = Array.isArray(parsed) ? parsed : isTasksHolder(parsed) ? parsed.tasks : undefined;
  if (list === undefined) {
    const got = parsed === null ? "null" : Array.isArray(parsed) ? "an array" : typeof parsed === "object" ? 'an object without a "tasks" array' : `a ${typeof parsed}`;
    throw new DatasetError(path, [{ line: 1, message: `expected an array of rows (or an object with a "tasks" array), got ${got}` }]);
  }
  const offsets: number[] = [];
  scanJson(text, offsets);
  return list.map((value: JsonValue, i) => ({ line: lineAndColumn(text, offsets[i] ?? 0).line, value }));
}

function isTasksHolder(value: unknown): value is { tasks: JsonValue[] } {
  return typeof value === "object" && value !== null && Array.isArray((value as { tasks?: unknown }).tasks);
}

function csvRows(path: string, text: string): Row[] {
  let records;
  try {
    records = parseCsv(text);
  } catch (error) {
    if (error instanceof CsvSyntaxError) throw new DatasetError(path, [{ line: error.line, column: error.column, message: error.message }]);
    throw error;
  }
  const [header, ...body] = records;
  if (header === undefined) return [];
  checkHeader(path, header.line, header.fields);
  const problems: DatasetProblem[] = body
    .filter((record) => record.fields.length !== header.fields.length)
    .map((record) => ({ line: record.line, message: `${record.fields.length} field${record.fields.length === 1 ? "" : "s"}, but the header has ${header.fields.length} columns` }));
  if (problems.length > 0) throw new DatasetError(path, problems.slice(0, MAX_PROBLEMS), problems.length);
  return body.map((record) => ({ line: record.line, value: Object.fromEntries(header.fields.map((name, i) => [name, record.fields[i]!])) }));
}

function checkHeader(path: string, line: number, names: string[]): void {
  const seen = new Set<string>();
  names.forEach((name, i) => {
    if (name.trim() === "") throw new DatasetError(path, [{ line, message: `column ${i + 1} of the header has no name` }]);
    if (seen.has(name)) throw new DatasetError(path, [{ line, message: `the header names column "${name}" twice` }]);
    seen.add(name);
  });
}

async function checkRows(path: string, rows: Row[], schema: z.ZodType): Promise<unknown[]> {
  const out: unknown[] = [];
  const problems: DatasetProblem[] = [];
  let total = 0;
  for (const row of rows) {
    const result = await schema.safeParseAsync(row.value);
    if (result.success) {
      out.push(result.data);
      continue;
    }
    for (const issue of toValidationIssues(result.error, MAX_PROBLEMS, row.value)) {
      total++;
      if (problems.length < MAX_PROBLEMS) problems.push({ line: row.line, ...(issue.path ? { field: issue.path } : {}), message: issue.message });
    }
  }
  if (problems.length > 0) throw new DatasetError(path, problems, total);
  return out;
}
