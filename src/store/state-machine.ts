/**
 * The rollout and attempt state machine — the one place where statuses change.
 *
 * Every function here is pure: it takes a rollout (with its attempts) and returns the next
 * rollout plus the events to announce, or throws a typed error. Backends only persist what these
 * functions return, inside whatever atomic section they have, so every backend enforces exactly
 * the same rules.
 */
import type {
  Attempt,
  AttemptCompletion,
  AttemptError,
  AttemptStatus,
  AttemptStatusEvent,
  ErrorKind,
  ParsedEnqueueRequest,
  Rollout,
  RolloutConfig,
  RolloutStatus,
  RolloutStatusEvent,
} from "../types/index.js";
import { ConflictError, DEFAULT_CLAIM_TIMEOUT_MS, NotFoundError, RolloutConfigSchema } from "../types/index.js";

const ROLLOUT_TRANSITIONS: Record<RolloutStatus, readonly RolloutStatus[]> = {
  queuing: ["running", "cancelled"],
  running: ["succeeded", "failed", "requeuing", "cancelled"],
  requeuing: ["running", "cancelled"],
  succeeded: [],
  failed: [],
  cancelled: [],
};

const ATTEMPT_TRANSITIONS: Record<AttemptStatus, readonly AttemptStatus[]> = {
  preparing: ["running", "succeeded", "failed", "timeout", "unresponsive", "cancelled"],
  running: ["succeeded", "failed", "timeout", "unresponsive", "cancelled"],
  succeeded: [],
  failed: [],
  timeout: [],
  unresponsive: [],
  cancelled: [],
};

/** True for `succeeded`, `failed` and `cancelled`: the rollout will never change again. */
export function isRolloutTerminal(status: RolloutStatus): boolean {
  return ROLLOUT_TRANSITIONS[status].length === 0;
}

/** True for `queuing` and `requeuing`: the rollout waits in the queue. */
export function isRolloutQueued(status: RolloutStatus): boolean {
  return status === "queuing" || status === "requeuing";
}

/** True for `preparing` and `running`. */
export function isAttemptActive(status: AttemptStatus): boolean {
  return ATTEMPT_TRANSITIONS[status].length > 0;
}

function assertRolloutTransition(rollout: Rollout, to: RolloutStatus): void {
  if (!ROLLOUT_TRANSITIONS[rollout.status].includes(to)) {
    throw new ConflictError(`rollout '${rollout.rolloutId}' cannot go from '${rollout.status}' to '${to}'`, {
      rolloutId: rollout.rolloutId,
      from: rollout.status,
      to,
    });
  }
}

function assertAttemptTransition(attempt: Attempt, to: AttemptStatus): void {
  if (!ATTEMPT_TRANSITIONS[attempt.status].includes(to)) {
    throw new ConflictError(
      `attempt '${attempt.attemptId}' of rollout '${attempt.rolloutId}' is already '${attempt.status}' and cannot become '${to}'`,
      { rolloutId: attempt.rolloutId, attemptId: attempt.attemptId, from: attempt.status, to },
    );
  }
}

/** What one state-machine step produced. `attempt` is the attempt it created or changed, if any. */
export interface RolloutChange {
  rollout: Rollout;
  attempt: Attempt | null;
  /** False when the step was a no-op (e.g. a repeated, identical completion); nothing to persist. */
  changed: boolean;
  events: Array<RolloutStatusEvent | AttemptStatusEvent>;
}

function rolloutEvent(rollout: Rollout, previous: RolloutStatus | null, at: number): RolloutStatusEvent {
  return { type: "rollout", rolloutId: rollout.rolloutId, status: rollout.status, previous, finalReward: rollout.finalReward, at };
}

function attemptEvent(attempt: Attempt, previous: AttemptStatus | null, at: number): AttemptStatusEvent {
  return {
    type: "attempt",
    rolloutId: attempt.rolloutId,
    attemptId: attempt.attemptId,
    sequence: attempt.sequence,
    workerId: attempt.workerId,
    status: attempt.status,
    previous,
    error: attempt.error,
    at,
  };
}

/** A change that is known to concern one attempt (claim, completion, expiry). */
export interface AttemptChange extends RolloutChange {
  attempt: Attempt;
}

function unchanged<A extends Attempt | null>(rollout: Rollout, attempt: A): RolloutChange & { attempt: A } {
  return { rollout, attempt, changed: false, events: [] };
}

const DEFAULT_CONFIG: RolloutConfig = Object.freeze(RolloutConfigSchema.parse({}));
Object.freeze(DEFAULT_CONFIG.retryOn);

/** A new rollout in the queue. */
export function createRollout(
  request: ParsedEnqueueRequest,
  ids: { rolloutId: string; resourcesId: string | null },
  now: number,
): { rollout: Rollout; event: RolloutStatusEvent } {
  const rollout: Rollout = {
    rolloutId: ids.rolloutId,
    input: request.input,
    mode: request.mode,
    resourcesId: ids.resourcesId,
    status: "queuing",
    config: request.config ?? DEFAULT_CONFIG,
    metadata: request.metadata ?? {},
    createdAt: now,
    endedAt: null,
    finalReward: null,
    attempts: [],
  };
  return { rollout, event: rolloutEvent(rollout, null, now) };
}

/** Hands a queued rollout to a worker: a new attempt in `preparing`, the rollout `running`. */
export function claimRollout(
  rollout: Rollout,
  claim: { attemptId: string; workerId: string | null },
  now: number,
): AttemptChange {
  assertRolloutTransition(rollout, "running");
  const attempt: Attempt = {
    rolloutId: rollout.rolloutId,
    attemptId: claim.attemptId,
    sequence: rollout.attempts.length + 1,
    workerId: claim.workerId,
    status: "preparing",
    startedAt: now,
    endedAt: null,
    lastHeartbeatAt: now,
    error: null,
    finalReward: null,
    spanCount: 0,
  };
  const next: Rollout = { ...rollout, status: "running", attempts: [...rollout.attempts, attempt] };
  return {
    rollout: next,
    attempt,
    changed: true,
    events: [rolloutEvent(next, rollout.status, now), attemptEvent(attempt, null, now)],
  };
}

/**
 * A sign of life (heartbeat or span) for an attempt: refreshes `lastHeartbeatAt` and moves
 * `preparing` to `running`. Returns `null` for an attempt that has already ended — late spans are
 * still stored, but never revive an ended attempt.
 */
export function recordActivity(attempt: Attempt, now: number): { attempt: Attempt; event: AttemptStatusEvent | null } | null {
  if (!isAttemptActive(attempt.status)) return null;
  const next: Attempt = { ...attempt, status: "running", lastHeartbeatAt: Math.max(attempt.lastHeartbeatAt, now) };
  return { attempt: next, event: attempt.status === "running" ? null : attemptEvent(next, attempt.status, now) };
}

/** The attempt status a failure of this kind leaves behind. */
export function statusForErrorKind(kind: ErrorKind): AttemptStatus {
  switch (kind) {
    case "agent_error":
    case "infra_error":
      return "failed";
    default:
      return kind;
  }
}

/** Whether a failed attempt starts another one under the rollout's retry policy. */
export function shouldRetry(config: RolloutConfig, attempt: Attempt): boolean {
  const kind = attempt.error?.kind;
  if (kind === undefined || kind === "cancelled") return false;
  return config.retryOn.includes(kind) && attempt.sequence < config.maxAttempts;
}

function findAttempt(rollout: Rollout, attemptId: string): Attempt {
  const attempt = rollout.attempts.find((a) => a.attemptId === attemptId);
  if (!attempt) {
    throw NotFoundError.attempt(rollout.rolloutId, attemptId);
  }
  return attempt;
}

/**
 * Ends an active attempt and settles the rollout: succeeded, failed, requeued for a retry, or
 * cancelled. `requeue` forces a retry whatever the policy says (a claim released unused).
 */
function endAttempt(
  rollout: Rollout,
  attempt: Attempt,
  outcome: { status: AttemptStatus; error: AttemptError | null; finalReward: number | null; requeue?: boolean },
  now: number,
): AttemptChange {
  assertAttemptTransition(attempt, outcome.status);
  const ended: Attempt = { ...attempt, status: outcome.status, endedAt: now, error: outcome.error, finalReward: outcome.finalReward };
  const nextStatus: RolloutStatus =
    outcome.status === "succeeded" || outcome.status === "cancelled"
      ? outcome.status
      : outcome.requeue || shouldRetry(rollout.config, ended)
        ? "requeuing"
        : "failed";
  assertRolloutTransition(rollout, nextStatus);
  const terminal = isRolloutTerminal(nextStatus);
  const next: Rollout = {
    ...rollout,
    status: nextStatus,
    endedAt: terminal ? now : null,
    finalReward: terminal ? ended.finalReward : null,
    attempts: rollout.attempts.map((a) => (a.attemptId === ended.attemptId ? ended : a)),
  };
  return {
    rollout: next,
    attempt: ended,
    changed: true,
    events: [attemptEvent(ended, attempt.status, now), rolloutEvent(next, rollout.status, now)],
  };
}

/**
 * A runner reports how an attempt ended. Completing an attempt that has already ended is
 * rejected with a ConflictError — a late "succeeded" from a timed-out attempt changes nothing —
 * unless it repeats the same outcome, which is a no-op (so a retried request is harmless).
 */
export function completeAttempt(rollout: Rollout, attemptId: string, completion: AttemptCompletion, now: number): AttemptChange {
  const attempt = findAttempt(rollout, attemptId);
  const status = completion.status === "succeeded" ? "succeeded" : statusForErrorKind(completion.error.kind);
  if (attempt.status === status && !isAttemptActive(status)) return unchanged(rollout, attempt);
  return endAttempt(
    rollout,
    attempt,
    {
      status,
      error: completion.status === "failed" ? completion.error : null,
      finalReward: completion.finalReward ?? null,
    },
    now,
  );
}

/**
 * Gives back a claim nobody will run — the dequeuer went away (its long-poll was aborted, its HTTP
 * client hung up) before the agent started. The attempt ends as an `infra_error` and the rollout
 * goes back to the queue regardless of its retry policy, since the attempt never ran. A no-op if
 * the attempt has moved on (it started running, or ended) meanwhile.
 */
export function releaseClaim(rollout: Rollout, attemptId: string, now: number): AttemptChange {
  const attempt = findAttempt(rollout, attemptId);
  if (attempt.status !== "preparing") return unchanged(rollout, attempt);
  return giveBack(rollout, attempt, "claim released: the worker that dequeued it went away before starting it", now);
}

/** Ends a claim that never ran as an `infra_error` and queues its rollout again, whatever its retry policy. */
function giveBack(rollout: Rollout, attempt: Attempt, message: string, now: number): AttemptChange {
  return endAttempt(rollout, attempt, { status: "failed", error: { kind: "infra_error", message }, finalReward: null, requeue: true }, now);
}

/**
 * Which deadline, if any, an active attempt has passed at `now`. Wall-clock timeout is checked
 * first; `unclaimed` is a claim nobody confirmed (see `RolloutConfig.claimTimeoutMs`).
 */
export function dueExpiry(config: RolloutConfig, attempt: Attempt, now: number): "timeout" | "unresponsive" | "unclaimed" | null {
  if (!isAttemptActive(attempt.status)) return null;
  if (attempt.status === "preparing" && now - attempt.startedAt >= (config.claimTimeoutMs ?? DEFAULT_CLAIM_TIMEOUT_MS)) return "unclaimed";
  if (config.timeoutMs !== undefined && now - attempt.startedAt >= config.timeoutMs) return "timeout";
  if (config.heartbeatTimeoutMs !== undefined && now - attempt.lastHeartbeatAt >= config.heartbeatTimeoutMs) {
    return "unresponsive";
  }
  return null;
}

/**
 * The watchdog's step: marks an attempt `timeout` or `unresponsive` if it is still past its
 * deadline, and applies the retry policy. A no-op if the attempt ended or was revived meanwhile.
 */
export function expireAttempt(rollout: Rollout, attemptId: string, now: number): AttemptChange {
  const attempt = findAttempt(rollout, attemptId);
  const kind = dueExpiry(rollout.config, attempt, now);
  if (kind === null) return unchanged(rollout, attempt);
  if (kind === "unclaimed") {
    const limit = rollout.config.claimTimeoutMs ?? DEFAULT_CLAIM_TIMEOUT_MS;
    return giveBack(rollout, attempt, `claim released: no heartbeat, span or completion within its claimTimeoutMs of ${limit} ms — the worker that dequeued it is gone or never received it`, now);
  }
  const message =
    kind === "timeout"
      ? `attempt ran ${Math.round(now - attempt.startedAt)} ms, over its timeoutMs of ${rollout.config.timeoutMs} ms`
      : `no heartbeat or span for ${Math.round(now - attempt.lastHeartbeatAt)} ms, over its heartbeatTimeoutMs of ${rollout.config.heartbeatTimeoutMs} ms`;
  return endAttempt(rollout, attempt, { status: kind, error: { kind, message }, finalReward: null }, now);
}

/**
 * Cancels a rollout that has not ended; its active attempt, if any, becomes `cancelled`.
 * Cancelling a cancelled rollout is a no-op; cancelling a succeeded or failed one is a conflict.
 */
export function cancelRollout(rollout: Rollout, reason: string | undefined, now: number): RolloutChange {
  if (rollout.status === "cancelled") return unchanged(rollout, null);
  const active = rollout.attempts.find((a) => isAttemptActive(a.status));
  if (active) {
    const message = reason ?? "the rollout was cancelled";
    return endAttempt(rollout, active, { status: "cancelled", error: { kind: "cancelled", message }, finalReward: null }, now);
  }
  assertRolloutTransition(rollout, "cancelled");
  const next: Rollout = { ...rollout, status: "cancelled", endedAt: now };
  return { rollout: next, attempt: null, changed: true, events: [rolloutEvent(next, rollout.status, now)] };
}
