/**
 * Benchmark servers run in child processes, so the measuring client and the server never share an
 * event loop: on a 2-core machine each gets a core, as on two machines.
 */
import { type ChildProcess, spawn } from "node:child_process";

export interface Child<I> {
  /** The JSON line the child printed once it was ready. */
  info: I;
  stop(): Promise<void>;
}

/**
 * Starts `script` the way this process was started (tsx), waits for the first JSON line on its
 * stdout and returns it. `profileDir` runs the child under `node --cpu-prof`.
 */
export async function startChild<I>(script: string, args: string[], profileDir?: string): Promise<Child<I>> {
  const profile = profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`];
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, ...profile, script, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const info = await new Promise<I>((resolve, reject) => {
    let text = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split("\n").find((l) => l.startsWith("{"));
      if (line) resolve(JSON.parse(line) as I);
    });
    void exited.then((code) => reject(new Error(`${script} exited (${code}) before it was ready`)));
  });
  return {
    info,
    async stop() {
      child.kill("SIGTERM");
      const code = await exited;
      if (code !== 0) throw new Error(`${script} exited with ${code}`);
    },
  };
}
