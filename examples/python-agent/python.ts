/**
 * The bridge between tracetrain and the Python agent: an `agent()` that starts `python3 agent.py`
 * once per rollout, telling it the store server, the attempt, the model and the prompt under test.
 * The Python program sends its spans and its reward to the store itself; this side only waits
 * for it, and fails the attempt, with the program's own message, when it exits non-zero.
 */
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { agent } from "tracetrain";
import type { Ticket } from "./tickets.js";

const AGENT_PY = fileURLToPath(new URL("./agent.py", import.meta.url));

export interface PythonAgentOptions {
  /** The Python 3 interpreter's executable (from {@link checkPython}). */
  python: string;
  /** The store server the program reports to, and its token. */
  storeUrl: string;
  token: string;
  /** Ask the endpoint for exact token ids (vLLM's `return_token_ids`; OpenAI itself rejects it). */
  returnTokenIds: boolean;
}

/** A Python 3 interpreter, resolved once: its version and the path of the executable itself. */
export interface Python {
  version: string;
  executable: string;
}

/**
 * Finds the interpreter `command` runs, or throws naming what to do. Rollouts then start the
 * executable itself: a version manager's shim (pyenv's `python3` is a shell script) can take
 * longer to start than the agent takes to run.
 */
export function checkPython(command: string): Python {
  const run = spawnSync(command, ["-c", "import sys; print(sys.version.split()[0]); print(sys.executable)"], { encoding: "utf8" });
  if (run.error !== undefined) {
    const reason = (run.error as NodeJS.ErrnoException).code === "ENOENT" ? "no such command" : run.error.message;
    throw new Error(`${command} not found: ${reason} (install Python 3, or name the interpreter with --python PATH)`);
  }
  const [version = "", executable = ""] = run.stdout.trim().split("\n");
  if (run.status !== 0 || !version.startsWith("3.") || executable === "") {
    throw new Error(`${command} is not a Python 3 interpreter: it answered '${`${run.stdout}${run.stderr}`.trim() || `exit code ${run.status}`}'`);
  }
  return { version: `Python ${version}`, executable };
}

export function pythonRouter(options: PythonAgentOptions) {
  return agent(
    async (task: Ticket, ctx) => {
      const llm = ctx.llm();
      await runProgram(options.python, {
        ...process.env,
        TRACETRAIN_STORE_URL: options.storeUrl,
        TRACETRAIN_TOKEN: options.token,
        TRACETRAIN_ROLLOUT_ID: ctx.rollout.rolloutId,
        TRACETRAIN_ATTEMPT_ID: ctx.rollout.attemptId,
        OPENAI_BASE_URL: llm.baseUrl,
        OPENAI_MODEL: llm.model,
        OPENAI_API_KEY: llm.apiKey ?? process.env.OPENAI_API_KEY ?? "",
        AGENT_SYSTEM_PROMPT: ctx.prompt("system").format({}),
        AGENT_TASK: JSON.stringify(task),
        AGENT_RETURN_TOKEN_IDS: options.returnTokenIds ? "1" : "0",
      }, ctx.signal);
      // Nothing returned: the reward the program posted is the attempt's outcome.
    },
    { name: "ticket-router" },
  );
}

/** Runs agent.py to its end; a non-zero exit fails the attempt with what the program wrote to stderr. */
function runProgram(python: string, env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [AGENT_PY], { env, stdio: ["ignore", "ignore", "pipe"], signal });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, killedBy) => {
      if (code === 0) resolve();
      else reject(new Error(`agent.py exited with ${killedBy ?? `code ${code}`}: ${stderr.trim() || "(no message)"}`));
    });
  });
}
