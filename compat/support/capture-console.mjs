// Preloaded into each README or guide code block (node --import): what the example prints with console.log
// goes, one JSON string per call, to CONSOLE_LOG_FILE — as test/docs/code-blocks.test.ts collects it in the
// repository — so other output (progress, traces printed by dev()) cannot be mistaken for it.
import { appendFileSync } from "node:fs";

const file = process.env.CONSOLE_LOG_FILE;
if (!file) throw new Error("CONSOLE_LOG_FILE is not set");
console.log = (...args) => appendFileSync(file, `${JSON.stringify(args.join(" "))}\n`);
