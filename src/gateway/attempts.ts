/**
 * Which rollout attempts may call the gateway. A call is accepted only for an attempt that exists
 * and is still active; the answer is cached briefly (a store round trip per LLM call would cost
 * more than the proxying) and dropped as soon as the store reports the attempt ended.
 */
import type { Store } from "../store/index.js";
import type { AttemptStatusEvent, RolloutMode } from "../types/index.js";
import { ConflictError, NotFoundError } from "../types/index.js";
import type { Scope } from "./scope.js";

export interface ActiveAttempt {
  mode: RolloutMode;
  /** The resources snapshot the rollout runs with (its candidate's substitutions, if any). */
  resourcesId: string | null;
}

const ACTIVE = new Set(["preparing", "running"]);

export class AttemptDirectory {
  private readonly cache = new Map<string, { attempt: ActiveAttempt; until: number }>();
  private readonly lookups = new Map<string, Promise<ActiveAttempt>>();
  private readonly onAttempt = (event: AttemptStatusEvent) => {
    if (!ACTIVE.has(event.status)) this.cache.delete(key(event));
  };

  constructor(
    private readonly store: Store,
    /** How long a positive answer is trusted without a store event. */
    private readonly ttlMs: number,
  ) {
    store.events.on("attempt", this.onAttempt);
  }

  /** The attempt, if it may call now; NotFoundError or ConflictError (ended) otherwise. */
  check(scope: Scope): Promise<ActiveAttempt> {
    const k = key(scope);
    const cached = this.cache.get(k);
    if (cached && cached.until > performance.now()) return Promise.resolve(cached.attempt);
    let lookup = this.lookups.get(k);
    if (!lookup) {
      lookup = this.lookup(scope).finally(() => this.lookups.delete(k));
      this.lookups.set(k, lookup);
    }
    return lookup;
  }

  private async lookup(scope: Scope): Promise<ActiveAttempt> {
    const rollout = await this.store.getRollout(scope.rolloutId);
    const attempt = rollout.attempts.find((a) => a.attemptId === scope.attemptId);
    if (!attempt) throw NotFoundError.attempt(scope.rolloutId, scope.attemptId);
    if (!ACTIVE.has(attempt.status)) {
      throw new ConflictError(`attempt '${scope.attemptId}' of rollout '${scope.rolloutId}' has ended (${attempt.status}); its calls are no longer accepted`, {
        rolloutId: scope.rolloutId,
        attemptId: scope.attemptId,
        status: attempt.status,
      });
    }
    const active = { mode: rollout.mode, resourcesId: rollout.resourcesId };
    this.cache.set(key(scope), { attempt: active, until: performance.now() + this.ttlMs });
    return active;
  }

  close(): void {
    this.store.events.off("attempt", this.onAttempt);
    this.cache.clear();
  }
}

function key(ref: { rolloutId: string; attemptId: string }): string {
  return `${ref.rolloutId}\n${ref.attemptId}`;
}
