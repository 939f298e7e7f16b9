import type { SqliteDriver } from "./driver.js";

interface Job {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Group commit: write calls that arrive within one turn of the event loop share a single
 * transaction, so the fixed cost of a commit is paid once per turn instead of once per call.
 *
 * Each call still runs in its own savepoint — a call that throws rolls back only its own
 * changes and rejects alone — and every call's promise settles only after the shared COMMIT, so
 * anything a caller saw acknowledged is on disk. If BEGIN or COMMIT itself fails, every call of
 * the group rejects with that error and nothing of the group is kept.
 */
export class GroupCommit {
  private pending: Job[] = [];
  private scheduled = false;

  constructor(private readonly db: SqliteDriver) {}

  /** Runs `job` inside the next group transaction; resolves with its result once committed. */
  run<T>(job: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run: job, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits whatever is pending now (used before closing). */
  flush(): void {
    this.scheduled = false;
    const jobs = this.pending;
    if (jobs.length === 0) return;
    this.pending = [];
    let outcomes: Outcome[];
    try {
      outcomes = this.db.transaction(() => jobs.map((job) => this.attempt(job)), { immediate: true });
    } catch (error) {
      for (const job of jobs) job.reject(error);
      return;
    }
    outcomes.forEach((outcome, i) => (outcome.ok ? jobs[i]!.resolve(outcome.value) : jobs[i]!.reject(outcome.error)));
  }

  private attempt(job: Job): Outcome {
    try {
      // Inside the group's transaction, this is a savepoint.
      return { ok: true, value: this.db.transaction(job.run) };
    } catch (error) {
      return { ok: false, error };
    }
  }
}
