// Running a child process in a compat test: its stdout on success; on failure an error that says
// what failed in one line (the child's own first error line), with the rest of stderr after it.
import { execFile } from "node:child_process";
import { basename } from "node:path";

/** The first line of `text` that names an error, else its first non-empty line. */
export function firstErrorLine(text) {
  const lines = text.split("\n").map((line) => line.trim()).filter((line) => line !== "");
  return lines.find((line) => /^(\w+Error\b|Error\b|\[?ERR_|AssertionError)/.test(line)) ?? lines[0] ?? "(no output)";
}

export function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    execFile(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...options }, (error, stdout, stderr) => {
      if (!error) return resolve({ stdout, stderr });
      const ran = [basename(command), ...args.map((arg) => basename(arg))].join(" ").slice(0, 100);
      const failure = new Error(`${firstErrorLine(stderr || error.message)} (from: ${ran})\n--- stderr (end) ---\n${stderr.slice(-4000)}`);
      failure.stdout = stdout;
      reject(failure);
    });
  });
}
