import type Database from "better-sqlite3";

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
  private readonly inSavepoint: (run: () => unknown) => unknown;
  private readonly runGroup: { immediate: (jobs: Job[]) => Outcome[] };

  constructor(db: Database.Database) {
    // better-sqlite3 turns a transaction function called inside another one into a savepoint.
    this.inSavepoint = db.transaction((run: () => unknown) => run());
    this.runGroup = db.transaction((jobs: Job[]) => jobs.map((job) => this.attempt(job)));
  }

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
      outcomes = this.runGroup.immediate(jobs);
    } catch (error) {
      for (const job of jobs) job.reject(error);
      return;
    }
    outcomes.forEach((outcome, i) => (outcome.ok ? jobs[i]!.resolve(outcome.value) : jobs[i]!.reject(outcome.error)));
  }

  private attempt(job: Job): Outcome {
    try {
      return { ok: true, value: this.inSavepoint(job.run) };
    } catch (error) {
      return { ok: false, error };
    }
  }
}
