/**
 * The minibatch gate: a child is scored on the very tasks its parent just ran, and passes only if
 * it does better on them — paired, so task difficulty cancels out. Ties do not pass (an edit that
 * changes nothing measurable is not progress), and neither does a gain that rests on fewer
 * improved tasks than worsened ones: one lucky task cannot outweigh several losses. With tokens
 * as a second objective (`tokens` given), a tie in reward passes when the child spent fewer tokens
 * on the same tasks and improved at least as many tasks as it worsened.
 */
import { mean } from "../stats.js";

export interface GateVerdict {
  accepted: boolean;
  parentMean: number;
  childMean: number;
  /** Tasks where the child did better, worse, the same. */
  improved: number;
  worsened: number;
  tied: number;
  /** Tokens parent and child spent on these tasks, when tokens are an objective. */
  tokens?: { parent: number; child: number };
  /** Why, in words. */
  reason: string;
}

export function minibatchGate(parent: readonly number[], child: readonly number[], tokens?: { parent: number; child: number }): GateVerdict {
  if (parent.length !== child.length || parent.length === 0) {
    throw new RangeError(`the gate compares the same tasks: got ${parent.length} parent and ${child.length} child rewards`);
  }
  let improved = 0;
  let worsened = 0;
  for (const [i, p] of parent.entries()) {
    if (child[i]! > p) improved++;
    else if (child[i]! < p) worsened++;
  }
  const parentMean = mean(parent);
  const childMean = mean(child);
  const tied = parent.length - improved - worsened;
  const base = { parentMean, childMean, improved, worsened, tied, ...(tokens === undefined ? {} : { tokens }) };
  if (tokens !== undefined && childMean === parentMean && tokens.child < tokens.parent && improved >= worsened) {
    return { ...base, accepted: true, reason: `tie (${fmt(childMean)} on ${parent.length} tasks) with fewer tokens: ${tokens.child} < ${tokens.parent}` };
  }
  if (childMean <= parentMean) {
    return { ...base, accepted: false, reason: childMean === parentMean ? `tie (${fmt(childMean)} on ${parent.length} tasks): ties do not pass` : `worse: ${fmt(childMean)} < ${fmt(parentMean)}` };
  }
  if (improved <= worsened) return { ...base, accepted: false, reason: `higher mean but ${improved} task(s) improved against ${worsened} worsened` };
  return { ...base, accepted: true, reason: `better: ${fmt(childMean)} > ${fmt(parentMean)} (${improved} improved, ${worsened} worsened)` };
}


function fmt(x: number): string {
  return x.toFixed(3);
}
