/** The detectors a run gets when it asks for the built-in set. */
import type { Detector } from "./detector.js";
import { injection } from "./injection.js";
import { rewardHacking } from "./reward-hacking.js";
import { secrets } from "./secrets.js";
import { toolPolicy } from "./tool-policy.js";

/**
 * A sensible default set: destructive SQL and dangerous shell in tool arguments, injected
 * instructions, secrets and personal data, and every reward-hacking rule — each with its default
 * thresholds. Hosts are not checked: an allow-list is yours to give (`toolPolicy({ hosts })`).
 */
export function builtInDetectors(): Detector[] {
  return [toolPolicy({ sql: true, shell: true }), injection(), secrets(), rewardHacking()];
}
