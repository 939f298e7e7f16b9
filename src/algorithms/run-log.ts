/**
 * How an algorithm records its run in the store: the run's header (algorithm, status, options,
 * result digest) and an append-only log of entries (RL steps, prompt candidates, scores, the
 * Pareto front or beam, spend), so any store — and any reader of it, the dashboard first — shows
 * what a run did and follows one in progress.
 *
 * The record is an observation of the training, not the training itself: a store that fails to
 * take it is reported once and counted, never allowed to end the run. Entries are checked against
 * their kind's schema before they are written (a bug in an algorithm must not write junk), and
 * every entry has a key, so a resumed run that records the same step or candidate again adds
 * nothing twice. Failed writes are kept and tried again at the next flush (keys make that safe).
 */
import type { z } from "zod";
import type { Store } from "../store/index.js";
import { type JsonObject, type JsonValue, type Logger, RunEntryDataSchemas, type RunEntryInput, type RunStatus, type TokenFigures } from "../types/index.js";
import { describeErrorChain } from "../util/index.js";
import type { BudgetLimit, Spend } from "./budget.js";
import type { Estimate } from "./stats.js";

type EntrySchemas = typeof RunEntryDataSchemas;
export type EntryKind = keyof EntrySchemas;
export type EntryData<K extends EntryKind> = z.input<EntrySchemas[K]>;

/** Most entries one write sends (the store takes at most 1000 per call). */
const BATCH = 500;
/** Most entries kept for a store that keeps failing; beyond, the oldest are given up (and counted). */
const MAX_PENDING = 10_000;

/** What became of a run's record. */
export interface RunRecordStats {
  /** Entries the store added. */
  added: number;
  /** Entries the store already had (a resumed run recording them again). */
  duplicates: number;
  /** Store writes that failed (each warned about only the first time). */
  failedWrites: number;
  /** Entries given up: refused by their schema (an algorithm bug) or never written for the store's failures. */
  lost: number;
}

export class RunLog {
  private pending: RunEntryInput[] = [];
  private opened = false;
  private warnedStore = false;
  private readonly warnedKinds = new Set<string>();
  private readonly stats: RunRecordStats = { added: 0, duplicates: 0, failedWrites: 0, lost: 0 };

  private constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly runId: string,
    private readonly algorithm: string,
    private readonly config: JsonObject,
  ) {}

  /** Creates the run (or marks a resumed one running again) with `options` as its config. */
  static async open(ctx: { store: Store; logger: Logger }, runId: string, algorithm: string, options: Record<string, unknown>): Promise<RunLog> {
    const log = new RunLog(ctx.store, ctx.logger, runId, algorithm, jsonObjectOf(options));
    await log.ensureOpened();
    return log;
  }

  /** Queues an entry, checked against its kind's schema; written at the next {@link flush}. */
  add<K extends EntryKind>(kind: K, key: string, data: EntryData<K>): void {
    const parsed = RunEntryDataSchemas[kind].safeParse(data);
    if (!parsed.success) {
      this.stats.lost++;
      if (!this.warnedKinds.has(kind)) {
        this.warnedKinds.add(kind);
        const issue = parsed.error.issues[0];
        this.logger.warn(`${this.label()}: a '${kind}' entry (${key}) was not recorded: ${issue?.path.join(".") || "data"}: ${issue?.message ?? "invalid"} (a bug in the algorithm; the run goes on)`);
      }
      return;
    }
    this.pending.push({ kind, key, data: jsonObjectOf(parsed.data) });
    if (this.pending.length > MAX_PENDING) this.stats.lost += this.pending.splice(0, this.pending.length - MAX_PENDING).length;
  }

  /** Writes the queued entries. Never throws: a store failure is warned about once, counted, and the entries kept for the next flush. */
  async flush(): Promise<void> {
    if (this.pending.length === 0 || !(await this.ensureOpened())) return;
    while (this.pending.length > 0) {
      const batch = this.pending.slice(0, BATCH);
      const written = await this.attempt(() => this.store.addRunEntries(this.runId, batch));
      if (!written) return;
      this.pending.splice(0, batch.length);
      this.stats.added += written.added;
      this.stats.duplicates += written.duplicates;
    }
  }

  /** Writes what is queued and ends the run with `status` and its result digest. Never throws. */
  async end(status: RunStatus, summary: Record<string, unknown>): Promise<RunRecordStats> {
    await this.flush();
    await this.attempt(() => this.store.recordRun({ runId: this.runId, algorithm: this.algorithm, status, summary: jsonObjectOf(summary) }));
    this.stats.lost += this.pending.length;
    this.pending = [];
    return { ...this.stats };
  }

  /** Ends the run as failed with the error that ended it. */
  fail(error: unknown): Promise<RunRecordStats> {
    return this.end("failed", { error: describeErrorChain(error) });
  }

  private async ensureOpened(): Promise<boolean> {
    if (!this.opened) {
      this.opened = (await this.attempt(() => this.store.recordRun({ runId: this.runId, algorithm: this.algorithm, status: "running", config: this.config }))) !== undefined;
    }
    return this.opened;
  }

  private async attempt<T>(write: () => Promise<T>): Promise<T | undefined> {
    try {
      return await write();
    } catch (error) {
      this.stats.failedWrites++;
      if (!this.warnedStore) {
        this.warnedStore = true;
        this.logger.warn(`${this.label()}: the store did not take the run's record (${describeErrorChain(error)}); training goes on, and its record in the store may be incomplete`);
      }
      return undefined;
    }
  }

  private label(): string {
    return `${this.algorithm.toUpperCase()} run ${this.runId}`;
  }
}

/**
 * The run status for how an algorithm ended: only an interruption leaves it `stopped` (resumable
 * where it was cut short). A budget reached is how a prompt optimizer normally ends: `completed`,
 * with the limit named in the summary's `stopDetail`.
 */
export function runStatusOf(stoppedBecause: string): RunStatus {
  return stoppedBecause === "interrupted" || stoppedBecause === "behaviour" ? "stopped" : "completed";
}

/** An estimate's 95% interval as [low, high]; null when it has none (no samples). */
export function interval(estimate: Estimate): [number, number] | null {
  return estimate.n === 0 || !Number.isFinite(estimate.ci95) ? null : [estimate.mean - estimate.ci95, estimate.mean + estimate.ci95];
}

/** A mean that may be NaN (nothing scored) as JSON: null then. */
export function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

/** A run's budget as its options hold it (an option left out: no limit). */
type SpendLimits = { [K in BudgetLimit]?: number | undefined };

/**
 * Records what a budgeted run has spent so far, and its limits. Keyed by the amounts: a resumed
 * run that reaches a state its first run recorded adds nothing, and one that goes further adds
 * its new state (the last `spend` entry is the latest).
 */
export function recordSpend(log: RunLog, spend: Spend, limits: SpendLimits): void {
  const entry = spendEntry(spend, limits);
  log.add("spend", `spend-${entry.rollouts}-${entry.optimizerTokens}`, entry);
}

function spendEntry(spend: Spend, limits: SpendLimits): EntryData<"spend"> {
  return {
    rollouts: spend.rollouts,
    optimizerTokens: spend.optimizerTokens.input + spend.optimizerTokens.output,
    usd: spend.usd.total,
    limits: { maxRollouts: limits.maxRollouts ?? null, maxOptimizerTokens: limits.maxOptimizerTokens ?? null, maxUsd: limits.maxUsd ?? null },
  };
}

/**
 * A value as JSON for a run's config or summary: numbers that JSON cannot hold (NaN, ±Infinity)
 * become null, functions are left out, and objects that are not plain data (an SDK client, a
 * backend) are named by their class — never serialized, as they may hold credentials.
 */
export function jsonOf(value: unknown, depth = 0): JsonValue | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : null;
    case "object": {
      if (value === null) return null;
      if (depth >= 16) return "…";
      if (Array.isArray(value)) return value.map((item) => jsonOf(item, depth + 1) ?? null);
      if (value instanceof RegExp) return String(value);
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return `[${(value as { constructor?: { name?: string } }).constructor?.name || "object"}]`;
      const out: JsonObject = {};
      for (const [key, child] of Object.entries(value)) {
        const json = jsonOf(child, depth + 1);
        if (json !== undefined) out[key] = json;
      }
      return out;
    }
    default:
      return undefined;
  }
}

function jsonObjectOf(value: object): JsonObject {
  const json = jsonOf(value);
  return typeof json === "object" && json !== null && !Array.isArray(json) ? json : {};
}

/** A `score` entry from an estimate over `n` tasks (`withInterval` false: the algorithm computes none there). */
export function scoreEntry(candidateId: string, on: string, scored: Estimate, withInterval = true, spent?: { tokens: TokenFigures; tokensPerReward: number | null }): EntryData<"score"> {
  return { candidateId, on, mean: finiteOrNull(scored.mean), n: scored.n, ci95: withInterval ? interval(scored) : null, ...(spent === undefined ? {} : { tokens: spent.tokens, tokensPerReward: spent.tokensPerReward }) };
}
