/**
 * The reward: 1 when the triage handed the request to the right specialist AND that specialist's
 * action tools did exactly what the request called for (the right refund amount on the right
 * invoice, the right fix, a label or none), else 0 — with feedback text saying what went wrong,
 * which GEPA's reflection reads.
 */
import type { DeskOutcome } from "./desk.js";
import type { Task } from "./tasks.js";

export interface Score {
  reward: 0 | 1;
  feedback: string;
}

/** The outcome as one string: the actions in order, or `none`. */
export function outcomeAction(outcome: Pick<DeskOutcome, "actions">): string {
  return outcome.actions.length === 0 ? "none" : outcome.actions.join("; ");
}

export function score(task: Task, outcome: DeskOutcome): Score {
  const { agent, action } = task.expected;
  if (outcome.handledBy !== agent) {
    return { reward: 0, feedback: `Routed to ${outcome.handledBy ?? "nobody"}, but this is a ${agent} request.` };
  }
  const did = outcomeAction(outcome);
  if (did !== action) return { reward: 0, feedback: `The ${agent} specialist did: ${did}. Expected: ${action}.` };
  return { reward: 1, feedback: `Correct: ${action}.` };
}
