import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Logger } from "../types/index.js";
import { TracetrainError, ValidationError } from "../types/index.js";
import type { Agent } from "./agent.js";
import type { WorkerEnvironment } from "./worker-main.js";

/** Built by the trainer from its parsed options, so every value is already checked and defaulted. */
export interface WorkerPoolOptions {
  /** Base URL of the store server the workers join. */
  storeUrl: string;
  token?: string;
  agent: Agent<unknown>;
  processes: number;
  /** Rollouts each worker runs at once. */
  concurrency: number;
  heartbeatIntervalMs: number;
  /** How long a worker's agents get to stop on SIGTERM; it is killed 5 s after that. */
  graceMs: number;
  logger: Logger;
  /** Called when every worker has exited while the pool was still wanted. */
  onAllExited?: (reason: string) => void;
}

/** How long a worker may take to import its agent and report ready. */
const READY_TIMEOUT_MS = 60_000;

/**
 * Worker processes that run an agent against a store over HTTP — parallelism beyond one event
 * loop. Each imports the agent's module itself (so the agent must say where it lives:
 * `agent(fn, { module: import.meta.url })`). A worker that dies simply stops heartbeating; the
 * store's watchdog marks its attempts unresponsive and the retry policy hands them to the others.
 */
export class WorkerPool {
  private readonly children: ChildProcess[] = [];
  private stopping = false;

  private constructor(private readonly options: WorkerPoolOptions) {}

  /** Starts the workers; resolves once every one has imported the agent and joined the store. */
  static async start(options: WorkerPoolOptions): Promise<WorkerPool> {
    if (!options.agent.module) {
      throw new ValidationError("trainer options", [
        {
          path: "runners.processes",
          message: `worker processes import the agent themselves: declare its module — agent(fn, { name: "${options.agent.name}", module: import.meta.url })`,
        },
      ]);
    }
    const pool = new WorkerPool(options);
    try {
      await Promise.all(Array.from({ length: options.processes }, (_, i) => pool.spawnWorker(i)));
    } catch (error) {
      await pool.stop();
      throw error;
    }
    return pool;
  }

  /** The workers' process ids (for monitoring, and for tests that kill one). */
  get pids(): number[] {
    return this.children.flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
  }

  private spawnWorker(index: number): Promise<void> {
    const { agent, logger } = this.options;
    const entry = workerEntry();
    const env: WorkerEnvironment & NodeJS.ProcessEnv = {
      ...process.env,
      TRACETRAIN_STORE_URL: this.options.storeUrl,
      TRACETRAIN_AGENT_MODULE: agent.module!,
      TRACETRAIN_AGENT_NAME: agent.name,
      TRACETRAIN_CONCURRENCY: String(this.options.concurrency),
      TRACETRAIN_WORKER_ID: `worker-${process.pid}-${index}`,
      TRACETRAIN_HEARTBEAT_MS: String(this.options.heartbeatIntervalMs),
      TRACETRAIN_GRACE_MS: String(this.options.graceMs),
      ...(this.options.token ? { TRACETRAIN_TOKEN: this.options.token } : {}),
    };
    // TypeScript sources (ours in development, or the user's agent module) load through tsx.
    const needsTsx = /\.[cm]?ts$/.test(entry) || /\.[cm]?ts$/.test(agent.module!);
    const child = spawn(process.execPath, [...(needsTsx ? ["--import", "tsx"] : []), entry], { env, stdio: ["ignore", "inherit", "pipe", "ipc"] });
    this.children.push(child);
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
      process.stderr.write(chunk);
    });
    child.on("exit", (code, signal) => {
      if (this.stopping) return;
      logger.warn(`worker ${index} (pid ${child.pid}) exited (${signal ?? `code ${code}`}); its attempts will be retried by the others`);
      if (this.children.every((c) => c.exitCode !== null || c.signalCode !== null)) this.options.onAllExited?.("every worker process exited");
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new TracetrainError("timeout", `worker ${index} did not start within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      child.on("message", (message: { type?: string; message?: string }) => {
        if (message?.type === "ready") {
          clearTimeout(timer);
          resolve();
        } else if (message?.type === "failed") {
          clearTimeout(timer);
          reject(new TracetrainError("internal", `worker ${index} could not start: ${message.message ?? "unknown error"}`));
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new TracetrainError("internal", `worker ${index} exited with code ${code} before it was ready: ${stderr.trim().split("\n").at(-1) ?? ""}`));
      });
    });
  }

  /** Asks every worker to stop (SIGTERM: they finish or abort their rollouts) and waits; kills stragglers. */
  async stop(): Promise<void> {
    this.stopping = true;
    const alive = this.children.filter((c) => c.exitCode === null && c.signalCode === null);
    await Promise.all(
      alive.map(
        (child) =>
          new Promise<void>((resolve) => {
            const kill = setTimeout(() => child.kill("SIGKILL"), this.options.graceMs + 5000);
            child.once("exit", () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill("SIGTERM");
          }),
      ),
    );
  }
}

/** The worker entry beside this module: `.js` when built, `.ts` when running from source. */
function workerEntry(): string {
  for (const name of ["./worker-main.js", "./worker-main.ts"]) {
    const path = fileURLToPath(new URL(name, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new TracetrainError("internal", "the worker entry point (worker-main.js) is missing next to the tracetrain package");
}
