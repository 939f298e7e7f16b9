/**
 * Whether a candidate's prompt texts reached the agent. An agent that reads a template through
 * `ctx.prompt()` gets the candidate's text directly (the runner records the read on the rollout's
 * root span); one that hard-codes the seed's text gets it by in-flight substitution (each LLM span
 * records the components it substituted). A component that neither happened to, in rollouts whose
 * snapshot changed it, was optimized blind: its candidates all ran as the seed.
 */
import type { Store } from "../store/index.js";
import { spansOf } from "../store/index.js";
import { Attr, type Logger, type Rollout, type Span, substitutionsOf } from "../types/index.js";
import { mapLimited } from "../util/index.js";

/** How one prompt component reached the agent, by rollout id. */
export interface ComponentCoverage {
  component: string;
  /** Rollouts whose agent read it through `ctx.prompt()`. */
  read: string[];
  /** Rollouts where the candidate's text replaced the seed's in flight. */
  substituted: string[];
  /** Rollouts whose snapshot changed it but whose agent neither read it nor sent its seed text where it is substituted. */
  neither: string[];
  /** No rollout read or substituted it, though some ran a candidate that changed it: its changes never reached the agent. */
  neverMatched: boolean;
}

/** How many rollouts are read at once. */
const CONCURRENCY = 16;

/**
 * The coverage of `components` over `rollouts` (their last attempts, as the store holds them).
 * Rollouts that never got an attempt are skipped.
 */
export async function promptCoverage(store: Store, rollouts: readonly Rollout[], components: readonly string[]): Promise<ComponentCoverage[]> {
  const coverage = components.map((component): ComponentCoverage => ({ component, read: [], substituted: [], neither: [], neverMatched: false }));
  const changedBy = snapshotChanges(store);
  const attempted = rollouts.filter((rollout) => rollout.attempts.length > 0);
  const uses = await mapLimited(attempted, CONCURRENCY, (rollout) => rolloutUse(store, rollout, changedBy));
  uses.forEach((use, index) => {
    const rolloutId = attempted[index]!.rolloutId;
    for (const entry of coverage) {
      if (use.read.has(entry.component)) entry.read.push(rolloutId);
      else if (use.substituted.has(entry.component)) entry.substituted.push(rolloutId);
      else if (use.changed.has(entry.component)) entry.neither.push(rolloutId);
    }
  });
  for (const entry of coverage) entry.neverMatched = entry.read.length === 0 && entry.substituted.length === 0 && entry.neither.length > 0;
  return coverage;
}

/** The components never matched, as one warning sentence (undefined when there are none). */
export function coverageWarning(coverage: readonly ComponentCoverage[]): string | undefined {
  const missed = coverage.filter((entry) => entry.neverMatched);
  if (missed.length === 0) return undefined;
  const list = missed.map((entry) => `'${entry.component}' (${entry.neither.length} rollout(s))`).join(", ");
  return (
    `prompt component(s) never matched: ${list}. The agent did not read them through ctx.prompt(), and no system message or tool description ` +
    "it sent equals their seed text, so their candidates ran with the seed's text. Read them with ctx.prompt(name), or make the seed resources hold " +
    "exactly the texts the agent sends (a user message is never substituted)"
  );
}

interface RolloutUse {
  read: Set<string>;
  substituted: Set<string>;
  /** Components the rollout's snapshot changed from the seed. */
  changed: Set<string>;
}

async function rolloutUse(store: Store, rollout: Rollout, changedBy: (resourcesId: string | null) => Promise<Set<string>>): Promise<RolloutUse> {
  const attempt = rollout.attempts.at(-1)!;
  const [spans, changed] = await Promise.all([spansOf(store, rollout.rolloutId, attempt.attemptId), changedBy(rollout.resourcesId)]);
  return { read: namesIn(spans, Attr.promptsRead), substituted: namesIn(spans, Attr.substituted), changed };
}

/** The components each snapshot changes, read once per snapshot. */
function snapshotChanges(store: Store): (resourcesId: string | null) => Promise<Set<string>> {
  const cache = new Map<string, Promise<Set<string>>>();
  return (resourcesId) => {
    if (resourcesId === null) return Promise.resolve(new Set());
    let pending = cache.get(resourcesId);
    if (!pending) {
      pending = store.getResources(resourcesId).then((snapshot) => new Set(substitutionsOf(snapshot.resources).map((s) => s.component)));
      cache.set(resourcesId, pending);
    }
    return pending;
  };
}

function namesIn(spans: readonly Span[], key: string): Set<string> {
  const names = new Set<string>();
  for (const span of spans) {
    const value = span.attributes[key];
    if (Array.isArray(value)) for (const name of value) if (typeof name === "string") names.add(name);
  }
  return names;
}

/** The coverage of `components` over every rollout of an optimizer run (ids `<runId>.…`). */
export async function coverageOfRun(store: Store, runId: string, components: readonly string[]): Promise<ComponentCoverage[]> {
  const rollouts: Rollout[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.queryRollouts({ idPrefix: `${runId}.`, limit: 1000, ...(cursor ? { cursor } : {}) });
    rollouts.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return promptCoverage(store, rollouts, components);
}

/**
 * The coverage of an optimizer run's components, with a warning logged for a component never
 * matched (`label` names the run in it). Null, with a warning, when it cannot be read: it is a
 * diagnostic, and failing to compute it must not cost the run its result.
 */
export async function reportCoverage(store: Store, logger: Logger, label: string, runId: string, components: readonly string[]): Promise<ComponentCoverage[] | null> {
  try {
    const coverage = await coverageOfRun(store, runId, components);
    const warning = coverageWarning(coverage);
    if (warning) logger.warn(`${label}: ${warning}`);
    return coverage;
  } catch (error) {
    logger.warn(`${label}: could not work out which prompt components reached the agent`, { error });
    return null;
  }
}
