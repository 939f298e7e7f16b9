/** Reading a training run's record back from a store in tests, interrupting a run in process, and a store that will not take entries. */
import type { Algorithm } from "tracetrain";
import { MemoryStore, type Store } from "tracetrain/store";
import type { AddRunEntriesResult, RunEntry, RunEntryInput } from "../../src/types/index.js";

/** Every entry of a run's log, in sequence order (all pages), optionally of some kinds only. */
export async function entriesOf(store: Store, runId: string, kind?: string[]): Promise<RunEntry[]> {
  const entries: RunEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.queryRunEntries({ runId, limit: 1000, ...(kind ? { kind } : {}), ...(cursor ? { cursor } : {}) });
    entries.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return entries;
}

/** Resolves once the run's log holds an entry that `check` accepts, woken by the store's `run` events (subscribed before looking). */
export async function untilEntry(store: Store, runId: string, check: (entry: RunEntry) => boolean): Promise<RunEntry> {
  for (;;) {
    let wake!: () => void;
    const next = new Promise<void>((resolve) => (wake = resolve));
    store.events.on("run", wake);
    try {
      const found = (await store.queryRuns({ limit: 1000 })).items.some((r) => r.runId === runId) ? (await entriesOf(store, runId)).find(check) : undefined;
      if (found) return found;
      await next;
    } finally {
      store.events.off("run", wake);
    }
  }
}

/**
 * The algorithm with a signal of the test's own joined to the trainer's, as Ctrl-C would abort
 * it: `interrupt()` stops the run in this process.
 */
export function interruptible<R>(algorithm: Algorithm<R>): { algorithm: Algorithm<R>; interrupt: () => void } {
  const controller = new AbortController();
  return {
    algorithm: { name: algorithm.name, run: (ctx) => algorithm.run({ ...ctx, signal: AbortSignal.any([ctx.signal, controller.signal]) }) },
    interrupt: () => controller.abort(),
  };
}

/** A memory store whose log refuses every entry, as a full disk or a dropped connection would. */
export class EntrylessStore extends MemoryStore {
  attempts = 0;
  override async addRunEntries(_runId: string, _entries: RunEntryInput[]): Promise<AddRunEntriesResult> {
    this.attempts++;
    throw new Error("disk I/O error: the run log is full");
  }
}
