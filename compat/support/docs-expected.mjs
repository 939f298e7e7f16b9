// What the README's and the guides' TypeScript blocks print lives in the repository's
// test/docs/code-blocks.test.ts (its EXPECTED table: a `"file": [` line per document, then one
// `[marker, /printed/]` pair per line). This reads that table from the file's text, so the compat
// suite and the in-repo test can never disagree about what a block prints.

const FILE = /^\s*"([^"]+)"\s*:\s*\[\s*$/;
const END_FILE = /^\s*\],?\s*$/;
const ROW = /^\s*\[\s*(['"])((?:\\.|(?!\1).)*)\1\s*,\s*\/(.+)\/([a-z]*)\s*\],?\s*$/;

/** @returns {Map<string, Array<[string, RegExp]>>} the expected rows per document (repository path). */
export function readExpected(testFileText) {
  const start = testFileText.indexOf("const EXPECTED");
  const end = testFileText.indexOf("\n};", start);
  if (start < 0 || end < 0) throw new Error("test/docs/code-blocks.test.ts has no EXPECTED table");
  const table = new Map();
  let rows = null;
  for (const line of testFileText.slice(start, end).split("\n").slice(1)) {
    if (/^\s*(\/\/.*)?$/.test(line)) continue;
    const file = FILE.exec(line);
    if (file) {
      rows = [];
      table.set(file[1], rows);
      continue;
    }
    if (END_FILE.test(line)) {
      rows = null;
      continue;
    }
    const match = ROW.exec(line);
    if (!match || rows === null) throw new Error(`cannot read this EXPECTED line of test/docs/code-blocks.test.ts: ${line.trim()}`);
    const [, quote, body, source, flags] = match;
    const marker = quote === '"' ? JSON.parse(`"${body}"`) : body.replace(/\\'/g, "'").replace(/\\\\/g, "\\");
    rows.push([marker, new RegExp(source, flags)]);
  }
  return table;
}
