/**
 * A JSON syntax walk that says where things are, which `JSON.parse` does not: the offset of the
 * first syntax error (V8 often gives none), and where each row of a dataset starts (the elements
 * of the top-level array, or of the top-level object's "tasks" array). Run only after
 * `JSON.parse` has failed, or when a row needs its line; iterative, so deep nesting cannot
 * overflow the stack.
 */

export interface JsonSyntaxError {
  offset: number;
  message: string;
}

type Expect = "value" | "valueOrEnd" | "keyOrEnd" | "key" | "colon" | "commaOrEnd";
interface Frame {
  kind: "array" | "object";
  /** An array whose elements are dataset rows. */
  rows: boolean;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPES = new Set(['"', "\\", "/", "b", "f", "n", "r", "t"]);

/**
 * Walks `text` as JSON. Returns the first syntax error, or undefined when it is valid; the offsets
 * of the rows are pushed into `rowOffsets` as they are met.
 */
export function scanJson(text: string, rowOffsets: number[] = []): JsonSyntaxError | undefined {
  const stack: Frame[] = [];
  let i = 0;
  let expect: Expect = "value";
  let done = false;
  let key: string | undefined;
  const fail = (message: string, offset = i): JsonSyntaxError => ({ offset, message });
  const afterValue = () => {
    if (stack.length === 0) done = true;
    else expect = "commaOrEnd";
  };
  for (;;) {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
    if (i >= text.length) return done ? undefined : fail("unexpected end of the file");
    if (done) return fail("unexpected text after the JSON value");
    const c = text[i]!;
    const top = stack.at(-1);
    if (expect === "value" || expect === "valueOrEnd") {
      if (expect === "valueOrEnd" && c === "]") {
        i++;
        stack.pop();
        afterValue();
        continue;
      }
      if (top?.rows) rowOffsets.push(i);
      if (c === "{" || c === "[") {
        const rows = c === "[" && (stack.length === 0 || (stack.length === 1 && top?.kind === "object" && key === "tasks"));
        if (rows) rowOffsets.length = 0;
        stack.push({ kind: c === "{" ? "object" : "array", rows });
        i++;
        expect = c === "{" ? "keyOrEnd" : "valueOrEnd";
        continue;
      }
      const error = c === '"' ? scanString() : scanScalar();
      if (error) return error;
      afterValue();
    } else if (expect === "keyOrEnd" || expect === "key") {
      if (expect === "keyOrEnd" && c === "}") {
        i++;
        stack.pop();
        afterValue();
        continue;
      }
      if (c !== '"') return fail("expected a double-quoted property name");
      const start = i;
      const error = scanString();
      if (error) return error;
      key = stack.length === 1 ? (JSON.parse(text.slice(start, i)) as string) : undefined;
      expect = "colon";
    } else if (expect === "colon") {
      if (c !== ":") return fail("expected ':' after the property name");
      i++;
      expect = "value";
    } else {
      const close = top!.kind === "array" ? "]" : "}";
      if (c === ",") {
        i++;
        expect = top!.kind === "array" ? "value" : "key";
      } else if (c === close) {
        i++;
        stack.pop();
        afterValue();
      } else {
        return fail(`expected ',' or '${close}'`);
      }
    }
  }

  function scanString(): JsonSyntaxError | undefined {
    const start = i;
    i++;
    for (;;) {
      if (i >= text.length) return fail("unterminated string", start);
      const code = text.charCodeAt(i);
      if (code === 0x22) {
        i++;
        return undefined;
      }
      if (code === 0x0a || code === 0x0d) return fail("string not closed on its line (a line break inside a string is written \\n)", start);
      if (code < 0x20) return fail("a control character inside a string: escape it (\\t, \\u0000)");
      if (code === 0x5c) {
        const next = text[i + 1];
        if (next === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return fail("bad \\u escape: expected four hex digits");
          i += 6;
        } else if (next !== undefined && ESCAPES.has(next)) {
          i += 2;
        } else {
          return fail(`bad escape \\${next ?? ""}`);
        }
        continue;
      }
      i++;
    }
  }

  function scanScalar(): JsonSyntaxError | undefined {
    for (const literal of ["true", "false", "null"]) {
      if (text.startsWith(literal, i)) {
        i += literal.length;
        return undefined;
      }
    }
    NUMBER.lastIndex = i;
    const number = NUMBER.exec(text);
    if (number === null) return fail(`expected a value, got ${JSON.stringify(text.slice(i, i + 10))}`);
    i += number[0].length;
    return undefined;
  }
}

/** 1-based line and column of `offset` (CRLF, LF and CR each end a line). */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a || (c === 0x0d && text.charCodeAt(i + 1) !== 0x0a)) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
