/** Starting the real `tracetrain` command in tests, and finding ports for it. */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

export const cliPath = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

/** A port nothing listens on right now (for a child process to bind). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface CliProcess {
  child: ChildProcess;
  /** Everything it printed so far, stdout and stderr together. */
  out: { text: string };
  exited: Promise<number | null>;
}

/**
 * Starts `tracetrain ARGS` from source (through tsx) and collects its output; the process is
 * added to `children`, for the test file to kill in its cleanup.
 */
export function startTracetrain(args: string[], env: Record<string, string>, children: ChildProcess[]): CliProcess {
  const child = spawn(process.execPath, ["--import", "tsx", cliPath, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  const out = { text: "" };
  child.stdout!.on("data", (c: Buffer) => (out.text += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (out.text += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, out, exited };
}

/** What an optimizer's Ctrl-C fixture (test/algorithms/fixtures/optimizer-run.ts) printed as its result. */
export interface OptimizerRunResult {
  interrupted: boolean;
  stoppedBecause: string;
  verdict: string;
  summary: string;
  published: { resourcesId: string; candidate: string } | null;
  reused: number;
  best: string;
  system: string;
  score: number;
  rollouts: number;
}

/**
 * Starts one run of APO or GEPA in a child process (so a test can Ctrl-C it), collecting what it
 * prints; `result()` parses its result line once it has exited.
 */
export function startOptimizerRun(kind: "apo" | "gepa", db: string, port: number) {
  const fixture = fileURLToPath(new URL("../algorithms/fixtures/optimizer-run.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", fixture, kind, db, String(port)], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, CI: "1" } });
  const out = { text: "" };
  child.stdout.on("data", (c: Buffer) => (out.text += c.toString()));
  child.stderr.on("data", (c: Buffer) => (out.text += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const result = () => JSON.parse(/^result: (.*)$/m.exec(out.text)![1]!) as OptimizerRunResult;
  return { child, out, exited, result };
}
