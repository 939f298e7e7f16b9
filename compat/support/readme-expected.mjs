// The README's expected outputs live in the repository's test/readme.test.ts (its EXPECTED table,
// one `[marker, /printed/]` pair per line). This reads that table from the file's text, so the
// compat suite and the in-repo test can never disagree about what an example prints.

const ROW = /^\s*\[\s*(['"])((?:\\.|(?!\1).)*)\1\s*,\s*\/(.+)\/([a-z]*)\s*\],?\s*$/;

export function readExpected(testFileText) {
  const start = testFileText.indexOf("const EXPECTED");
  const end = testFileText.indexOf("\n];", start);
  if (start < 0 || end < 0) throw new Error("test/readme.test.ts has no EXPECTED table");
  const rows = [];
  for (const line of testFileText.slice(start, end).split("\n").slice(1)) {
    if (/^\s*(\/\/.*)?$/.test(line)) continue;
    const match = ROW.exec(line);
    if (!match) throw new Error(`cannot read this EXPECTED row of test/readme.test.ts: ${line.trim()}`);
    const [, quote, body, source, flags] = match;
    const marker = quote === '"' ? JSON.parse(`"${body}"`) : body.replace(/\\'/g, "'").replace(/\\\\/g, "\\");
    rows.push([marker, new RegExp(source, flags)]);
  }
  return rows;
}
