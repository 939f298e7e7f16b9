/**
 * CSV as RFC 4180 writes it: fields separated by commas, records by line breaks (CRLF, LF or CR),
 * a field in double quotes may hold commas, line breaks and quotes (written twice). Every field
 * is a string. Blank lines are skipped. Each record keeps the line it starts on.
 */

export interface CsvRecord {
  line: number;
  fields: string[];
}

/** A CSV text that cannot be split into records; `line` and `column` are 1-based. */
export class CsvSyntaxError extends Error {
  constructor(
    readonly line: number,
    readonly column: number,
    message: string,
  ) {
    super(message);
    this.name = "CsvSyntaxError";
  }
}

export function parseCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const column = (offset: number) => offset - lineStart + 1;
  /** Moves `line` past the line breaks of text[from, to). */
  const countLines = (from: number, to: number) => {
    for (let k = from; k < to; k++) {
      const c = text.charCodeAt(k);
      if (c === 0x0a || (c === 0x0d && text.charCodeAt(k + 1) !== 0x0a)) {
        line++;
        lineStart = k + 1;
      }
    }
  };

  while (i < text.length) {
    const recordLine = line;
    const fields: string[] = [];
    let quotedAny = false;
    for (;;) {
      let field: string;
      if (text[i] === '"') {
        quotedAny = true;
        const open = { line, column: column(i) };
        field = "";
        i++;
        for (;;) {
          const quote = text.indexOf('"', i);
          if (quote < 0) throw new CsvSyntaxError(open.line, open.column, "unterminated quoted field: this opening quote is never closed");
          field += text.slice(i, quote);
          countLines(i, quote);
          if (text[quote + 1] === '"') {
            field += '"';
            i = quote + 2;
            continue;
          }
          i = quote + 1;
          break;
        }
        if (i < text.length && !isSeparator(text[i]!)) {
          throw new CsvSyntaxError(line, column(i), "text after the closing quote of a field (a quote inside a quoted field is written twice: \"\")");
        }
      } else {
        let end = i;
        while (end < text.length && !isSeparator(text[end]!)) end++;
        field = text.slice(i, end);
        const quote = field.indexOf('"');
        if (quote >= 0) {
          const hint = field.trimStart().startsWith('"') ? " (a space before the opening quote leaves the field unquoted)" : " (quote the whole field and write the quote twice)";
          throw new CsvSyntaxError(line, column(i + quote), `a quote inside an unquoted field${hint}`);
        }
        i = end;
      }
      fields.push(field);
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (i < text.length) {
        const next = text[i] === "\r" && text[i + 1] === "\n" ? i + 2 : i + 1;
        countLines(i, next);
        i = next;
      }
      break;
    }
    const blank = fields.length === 1 && fields[0] === "" && !quotedAny;
    if (!blank) records.push({ line: recordLine, fields });
  }
  return records;
}

function isSeparator(c: string): boolean {
  return c === "," || c === "\n" || c === "\r";
}
