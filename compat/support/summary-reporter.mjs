// A node:test reporter for the compat summary: one line per failed test — its file, its name and
// the first line that says why — so a run says precisely what fails. Runs beside the spec reporter.
// A test file that cannot even load (say, importing tracetrain throws) fails as a whole; its
// reason is then the first error line the file printed on stderr.
import { relative, resolve } from "node:path";
import { firstErrorLine } from "./run.mjs";

/** A message on one line: the part before a child's stderr dump, whitespace collapsed, paths short. */
function oneLine(message) {
  return message.split("\n--- stderr")[0].replace(/\s+/g, " ").replaceAll(`${process.cwd()}/`, "").trim();
}

export default async function* summaryReporter(source) {
  const stderr = new Map();
  for await (const event of source) {
    // Node 24 names the file relative to the working folder here and absolute below; Node 20 absolute in both.
    if (event.type === "test:stderr" && event.data.file) {
      const file = resolve(event.data.file);
      stderr.set(file, (stderr.get(file) ?? "") + event.data.message);
    }
    if (event.type !== "test:fail") continue;
    const { name, file, details } = event.data;
    const error = details?.error;
    // A file whose tests failed fails too; its tests have been reported already.
    if (error?.failureType === "subtestsFailed") continue;
    const cause = error?.cause ?? error;
    const message = String(cause?.message ?? cause ?? "failed");
    const wholeFile = file !== undefined && (name === file || name === relative(process.cwd(), file));
    const why = oneLine(wholeFile && message === "test failed" ? firstErrorLine(stderr.get(resolve(file)) ?? "") : message);
    yield `FAIL ${file ? relative(process.cwd(), file) : "?"} › ${wholeFile ? "(the file)" : name}: ${why.slice(0, 400)}\n`;
  }
}
