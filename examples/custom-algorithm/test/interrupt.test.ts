/** Best-of-N called directly with a hand-made context: what it does when the run is interrupted. */
import assert from "node:assert/strict";
import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { type AlgorithmContext, consoleLogger, createStore, TraceAdapter } from "tracetrain";
import { bestOfN } from "../best-of-n.js";
import { TASKS } from "../tasks.js";

it("stops on ctx.signal: the run is recorded as stopped and nothing is published", async () => {
  const dir = await mkdtemp(join(tmpdir(), "best-of-n-stop-"));
  const store = createStore("memory");
  const abort = new AbortController();
  const phases: string[] = [];
  // No runner: the rollouts stay queued, and Ctrl-C comes as sampling starts.
  const ctx: AlgorithmContext = {
    store,
    train: TASKS,
    val: [],
    test: [],
    initialResources: undefined,
    adapter: new TraceAdapter(),
    rolloutConfig: {},
    logger: consoleLogger,
    signal: abort.signal,
    progress: {
      phase: (label) => {
        phases.push(label);
        abort.abort();
      },
      expect: () => {},
      rolloutEnded: () => {},
      note: () => {},
    },
  };
  try {
    const out = join(dir, "sft.jsonl");
    const result = await bestOfN({ n: 2, threshold: 1, out, runId: "stopped-run" }).run(ctx);
    assert.deepEqual(phases, [`sampling 2 answers for each of ${TASKS.length} tasks`]);
    assert.equal(result.interrupted, true);
    assert.equal(result.file, null);
    assert.equal((await store.getRun("stopped-run")).status, "stopped");
    await assert.rejects(access(out), { code: "ENOENT" });
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
