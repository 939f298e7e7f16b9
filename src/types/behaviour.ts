/**
 * The behaviour filter's records: what a detector found, and what the run does about it. A
 * finding is stored as a span of its rollout's trace (`tracetrain.behaviour.finding`, type
 * `behaviour`), so it sits next to the call or tool span it points at and every reader of the
 * store — algorithms, the dashboard, exports — sees the same thing.
 */
import { z } from "zod";

/** How bad a finding is. */
export const FindingSeveritySchema = z.enum(["low", "medium", "high", "critical"]);
export type FindingSeverity = z.infer<typeof FindingSeveritySchema>;

/**
 * What a run does with a detector's findings:
 * - `log`: record the finding, change nothing else;
 * - `penalize`: also lower the rollout's reward (by the policy's penalty), recorded as a reward
 *   adjustment of its own — never a silent change of the reward;
 * - `exclude`: also keep the rollout out of training data (RL batches, SFT samples, the runs
 *   APO critiques and GEPA reflects on). APO and GEPA still count it in a candidate's score, with
 *   any penalty: dropping a flagged run from the score would reward the candidate for the flag;
 * - `stop`: also stop the run after the current step, saying which finding stopped it.
 */
export const BehaviourActionSchema = z.enum(["log", "penalize", "exclude", "stop"]);
export type BehaviourAction = z.infer<typeof BehaviourActionSchema>;

/** One thing a detector found. */
export const FindingSchema = z.object({
  /** The detector's name (`tool-policy`, `injection`, `secrets`, `reward-hacking`, or a user's). */
  detector: z.string().min(1).max(128),
  /** Which of the detector's rules fired (`denied-tool`, `copied-verifier-output`, …). */
  rule: z.string().min(1).max(128),
  severity: FindingSeveritySchema,
  /** One sentence for a reader: what happened. */
  message: z.string().min(1).max(2000),
  /** The text that shows it (an argument, an excerpt of a message), redacted when it is a secret. */
  evidence: z.string().max(4000),
  rolloutId: z.string().min(1),
  /** Absent for a finding about several rollouts (a group, a run). */
  attemptId: z.string().min(1).optional(),
  /** The span the finding points at (the LLM call, the tool call). */
  spanId: z.string().min(1).optional(),
});
export type Finding = z.infer<typeof FindingSchema>;
