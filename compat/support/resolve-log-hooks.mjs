// Module hooks for loaded-packages.mjs: every URL the ES module loader resolves is appended to a log
// file (the hooks run on their own thread, so a file is the simplest way back).
import { appendFileSync } from "node:fs";

let log;

export function initialize(data) {
  log = data.log;
}

export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  appendFileSync(log, `${result.url}\n`);
  return result;
}
