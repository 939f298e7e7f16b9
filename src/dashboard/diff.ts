/**
 * Side-by-side diffs for the resources page: a line diff (longest common subsequence over lines)
 * for prompt templates and pretty-printed JSON, and a field-by-field comparison for LLM resources.
 * No DOM here, so the unit tests run it under Node.
 */

/** One line of one side: its 1-based number in that text, and its text. */
export interface Line {
  n: number;
  text: string;
}

/**
 * One row of a side-by-side diff. `changed` pairs a removed line with the added line that took its
 * place; `removed` / `added` rows have only one side.
 */
export type DiffRow =
  | { kind: "same"; left: Line; right: Line }
  | { kind: "changed"; left: Line; right: Line }
  | { kind: "removed"; left: Line }
  | { kind: "added"; right: Line };

/**
 * Past this many cells (lines before × lines after, once the common head and tail are set aside)
 * the LCS table would cost too much memory in a browser tab: the middle is then shown as replaced.
 */
export const MAX_LCS_CELLS = 4_000_000;

/** The side-by-side line diff of two texts (`\r\n` and `\n` both end a line). */
export function lineDiff(before: string, after: string): DiffRow[] {
  const a = splitLines(before);
  const b = splitLines(after);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const ops: Op[] = [];
  for (let i = 0; i < head; i++) ops.push({ kind: "same", i, j: i });
  ops.push(...middleOps(a, b, head, a.length - tail, head, b.length - tail));
  for (let k = tail; k > 0; k--) ops.push({ kind: "same", i: a.length - k, j: b.length - k });
  return rowsOf(ops, a, b);
}

/** Whether a diff shows any difference. */
export function hasChanges(rows: readonly DiffRow[]): boolean {
  return rows.some((row) => row.kind !== "same");
}

function splitLines(text: string): string[] {
  return text === "" ? [] : text.split(/\r?\n/);
}

type Op = { kind: "same"; i: number; j: number } | { kind: "removed"; i: number } | { kind: "added"; j: number };

/** The edit script of `a[aFrom..aTo)` into `b[bFrom..bTo)`, by LCS when it fits in {@link MAX_LCS_CELLS}. */
function middleOps(a: readonly string[], b: readonly string[], aFrom: number, aTo: number, bFrom: number, bTo: number): Op[] {
  const rows = aTo - aFrom;
  const cols = bTo - bFrom;
  const ops: Op[] = [];
  if (rows * cols > MAX_LCS_CELLS) {
    for (let i = aFrom; i < aTo; i++) ops.push({ kind: "removed", i });
    for (let j = bFrom; j < bTo; j++) ops.push({ kind: "added", j });
    return ops;
  }
  // lengths[x * (cols + 1) + y]: LCS length of a[aFrom + x..aTo) and b[bFrom + y..bTo).
  const width = cols + 1;
  const lengths = new Uint32Array((rows + 1) * width);
  for (let x = rows - 1; x >= 0; x--) {
    for (let y = cols - 1; y >= 0; y--) {
      lengths[x * width + y] = a[aFrom + x] === b[bFrom + y] ? lengths[(x + 1) * width + y + 1]! + 1 : Math.max(lengths[(x + 1) * width + y]!, lengths[x * width + y + 1]!);
    }
  }
  let x = 0;
  let y = 0;
  while (x < rows && y < cols) {
    if (a[aFrom + x] === b[bFrom + y]) {
      ops.push({ kind: "same", i: aFrom + x++, j: bFrom + y++ });
    } else if (lengths[(x + 1) * width + y]! >= lengths[x * width + y + 1]!) {
      ops.push({ kind: "removed", i: aFrom + x++ });
    } else {
      ops.push({ kind: "added", j: bFrom + y++ });
    }
  }
  while (x < rows) ops.push({ kind: "removed", i: aFrom + x++ });
  while (y < cols) ops.push({ kind: "added", j: bFrom + y++ });
  return ops;
}

/** Rows from an edit script: each run of removals and additions between common lines is paired up line by line. */
function rowsOf(ops: readonly Op[], a: readonly string[], b: readonly string[]): DiffRow[] {
  const rows: DiffRow[] = [];
  const line = (n: number, text: string | undefined): Line => ({ n: n + 1, text: text ?? "" });
  let removed: number[] = [];
  let added: number[] = [];
  const flush = () => {
    for (let k = 0; k < Math.max(removed.length, added.length); k++) {
      const i = removed[k];
      const j = added[k];
      if (i !== undefined && j !== undefined) rows.push({ kind: "changed", left: line(i, a[i]), right: line(j, b[j]) });
      else if (i !== undefined) rows.push({ kind: "removed", left: line(i, a[i]) });
      else if (j !== undefined) rows.push({ kind: "added", right: line(j, b[j]) });
    }
    removed = [];
    added = [];
  };
  for (const op of ops) {
    if (op.kind === "removed") removed.push(op.i);
    else if (op.kind === "added") added.push(op.j);
    else {
      flush();
      rows.push({ kind: "same", left: line(op.i, a[op.i]), right: line(op.j, b[op.j]) });
    }
  }
  flush();
  return rows;
}

/**
 * The rows with each run of unchanged lines cut to `context` lines either side of a change (none
 * before the first change or after the last), the rest counted in one `{ folded }` item — unless
 * folding would hide a single line.
 */
export function foldUnchanged(rows: readonly DiffRow[], context: number): Array<DiffRow | { folded: number }> {
  const out: Array<DiffRow | { folded: number }> = [];
  for (let i = 0; i < rows.length; ) {
    if (rows[i]!.kind !== "same") {
      out.push(rows[i++]!);
      continue;
    }
    let end = i;
    while (end < rows.length && rows[end]!.kind === "same") end++;
    const keepHead = i === 0 ? 0 : context;
    const keepTail = end === rows.length ? 0 : context;
    if (end - i > keepHead + keepTail + 1) out.push(...rows.slice(i, i + keepHead), { folded: end - i - keepHead - keepTail }, ...rows.slice(end - keepTail, end));
    else out.push(...rows.slice(i, end));
    i = end;
  }
  return out;
}

/** One field of an LLM resource on both sides (`undefined`: the side has no such field). */
export interface FieldRow {
  field: string;
  before: string | undefined;
  after: string | undefined;
  changed: boolean;
}

/** Fields never shown in clear: a key is secret even behind the dashboard's token (screenshots, screen shares). */
const SECRET_FIELDS = new Set(["apiKey"]);

/** How a field's value reads in a cell: strings as they are, anything else as JSON, secrets masked. */
export function fieldText(field: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (SECRET_FIELDS.has(field)) return "•••••• (set)";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * Two records compared field by field: the fields of `before` in their order, then the ones only
 * `after` has. A secret that changed still shows as changed, without its value.
 */
export function fieldDiff(before: Readonly<Record<string, unknown>> | undefined, after: Readonly<Record<string, unknown>> | undefined): FieldRow[] {
  const fields = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])];
  return fields.map((field) => {
    const left = before?.[field];
    const right = after?.[field];
    return { field, before: fieldText(field, left), after: fieldText(field, right), changed: JSON.stringify(left) !== JSON.stringify(right) };
  });
}

/** How one named resource differs between two snapshots, ready to draw. */
export interface ResourceChange {
  name: string;
  change: "added" | "removed" | "changed" | "same";
  /** `kind` on each side (undefined where the resource is absent). */
  kinds: { before: string | undefined; after: string | undefined };
  /** Prompt templates and JSON compare as lines; LLM endpoints field by field. */
  body: { type: "lines"; rows: DiffRow[] } | { type: "fields"; rows: FieldRow[] };
}

/** A resource as the diff reads it: a kind, and whatever else its record holds. */
export type ResourceLike = { kind: string } & Readonly<Record<string, unknown>>;

/**
 * The resources of `after` compared with those of `before` (none: the first version), name by
 * name — `after`'s names in order, then the removed ones.
 */
export function resourcesDiff(before: Readonly<Record<string, ResourceLike>> | undefined, after: Readonly<Record<string, ResourceLike>>): ResourceChange[] {
  const names = [...new Set([...Object.keys(after), ...Object.keys(before ?? {})])];
  return names.map((name) => {
    const left = before?.[name];
    const right = after[name];
    const body = bodyOf(left, right);
    const differs = body.type === "lines" ? hasChanges(body.rows) : body.rows.some((row) => row.changed);
    const change = left === undefined ? "added" : right === undefined ? "removed" : differs || left.kind !== right.kind ? "changed" : "same";
    return { name, change, kinds: { before: left?.kind, after: right?.kind }, body };
  });
}

function bodyOf(left: ResourceLike | undefined, right: ResourceLike | undefined): ResourceChange["body"] {
  const kind = (left ?? right)?.kind;
  const sameKind = left === undefined || right === undefined || left.kind === right.kind;
  if (sameKind && kind === "llm") return { type: "fields", rows: fieldDiff(left, right) };
  return { type: "lines", rows: lineDiff(textOf(left, sameKind), textOf(right, sameKind)) };
}

/**
 * The text a resource is compared as: a template's own text (its engine, when not the default,
 * on a first line of its own), a JSON resource's value pretty-printed, and the whole record
 * pretty-printed when the two sides are of different kinds.
 */
function textOf(resource: ResourceLike | undefined, sameKind: boolean): string {
  if (resource === undefined) return "";
  if (!sameKind || (resource.kind !== "prompt_template" && resource.kind !== "json")) return JSON.stringify(masked(resource), null, 2);
  if (resource.kind === "json") return JSON.stringify(resource.value, null, 2) ?? "";
  const template = typeof resource.template === "string" ? resource.template : "";
  return resource.engine === "fstring" ? `[engine: fstring]\n${template}` : template;
}

function masked(resource: ResourceLike): Record<string, unknown> {
  return Object.fromEntries(Object.entries(resource).map(([field, value]) => [field, SECRET_FIELDS.has(field) ? fieldText(field, value) : value]));
}
