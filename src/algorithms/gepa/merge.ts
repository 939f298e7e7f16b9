/**
 * System-aware merge (GEPA, arXiv 2507.19457, §3 and App. merge): two candidates on the Pareto
 * front that descend from a common ancestor but evolved different components are combined —
 * each component taken from the one that changed it — so improvements found on separate branches
 * meet in one candidate. Pure functions: the loop runs and gates the merged candidate.
 */
import { canonicalJson, type ResourcesMap } from "../../types/index.js";
import { randomFor } from "../../util/index.js";

/** What merging needs to know of a pool candidate. */
export interface MergeCandidate {
  id: string;
  /** Its parents (ids of earlier pool candidates). */
  parents: readonly string[];
  resources: ResourcesMap;
  /** Mean score on the Pareto tasks: decides a component both sides changed. */
  score: number;
}

export interface MergePlan {
  /** The two candidates merged, the stronger first. */
  parents: [string, string];
  /** Their most recent common ancestor. */
  ancestor: string;
  resources: ResourcesMap;
  /** For each evolved component, the candidate whose text the merge took. */
  from: Record<string, string>;
}

/** The key of a pair tried once: a pair is not merged twice. */
export function pairKey(a: string, b: string): string {
  return [a, b].sort().join("+");
}

/**
 * The merge to try next among `front` (ids on the Pareto front, strongest pairs first by the tasks
 * they win together, ties in a seeded order), or undefined when no pair qualifies: neither may
 * descend from the other, they must share an ancestor, and each must bring a component the other
 * lacks — otherwise the merge would just be one of them.
 */
export function planMerge(
  pool: readonly MergeCandidate[],
  front: ReadonlyMap<string, number>,
  components: readonly string[],
  tried: ReadonlySet<string>,
  random: { seed: number; label: string },
): MergePlan | undefined {
  const byId = new Map(pool.map((c) => [c.id, c]));
  const ids = [...front.keys()];
  const pairs: Array<[string, string]> = [];
  for (const [i, a] of ids.entries()) for (const b of ids.slice(i + 1)) if (!tried.has(pairKey(a, b))) pairs.push([a, b]);
  const order = randomFor(random.seed, random.label).shuffle(pairs);
  order.sort(([a1, b1], [a2, b2]) => front.get(a2)! + front.get(b2)! - (front.get(a1)! + front.get(b1)!));
  for (const [a, b] of order) {
    const plan = mergeOf(byId, byId.get(a)!, byId.get(b)!, components);
    if (plan) return plan;
  }
  return undefined;
}

function mergeOf(byId: ReadonlyMap<string, MergeCandidate>, a: MergeCandidate, b: MergeCandidate, components: readonly string[]): MergePlan | undefined {
  const ancestorsA = ancestors(byId, a.id);
  const ancestorsB = ancestors(byId, b.id);
  if (ancestorsA.has(b.id) || ancestorsB.has(a.id)) return undefined;
  // Most recent: the latest of the shared ancestors in pool order (ids are in creation order in the pool).
  const order = [...byId.keys()];
  const shared = [...ancestorsA].filter((id) => ancestorsB.has(id)).sort((x, y) => order.indexOf(y) - order.indexOf(x));
  const ancestor = shared[0] === undefined ? undefined : byId.get(shared[0]);
  if (!ancestor) return undefined;
  const [strong, weak] = b.score > a.score ? [b, a] : [a, b];
  const resources: ResourcesMap = { ...strong.resources };
  const from: Record<string, string> = {};
  let fromWeak = false;
  let fromStrong = false;
  for (const name of components) {
    const changedStrong = !same(strong.resources[name], ancestor.resources[name]);
    const changedWeak = !same(weak.resources[name], ancestor.resources[name]);
    if (changedWeak && !changedStrong) {
      resources[name] = weak.resources[name]!;
      from[name] = weak.id;
      fromWeak = true;
    } else if (changedStrong) {
      from[name] = strong.id;
      if (!changedWeak || !same(strong.resources[name], weak.resources[name])) fromStrong = true;
    }
  }
  // Each side must contribute a change the other lacks, or the "merge" is one of the two.
  if (!fromWeak || !fromStrong) return undefined;
  return { parents: [strong.id, weak.id], ancestor: ancestor.id, resources, from };
}

/** Every ancestor of `id` (not itself), through all parents. */
function ancestors(byId: ReadonlyMap<string, MergeCandidate>, id: string): Set<string> {
  const found = new Set<string>();
  const stack = [...(byId.get(id)?.parents ?? [])];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (found.has(next)) continue;
    found.add(next);
    stack.push(...(byId.get(next)?.parents ?? []));
  }
  return found;
}

function same(a: ResourcesMap[string] | undefined, b: ResourcesMap[string] | undefined): boolean {
  return canonicalJson(a ?? null) === canonicalJson(b ?? null);
}

/**
 * Up to `size` Pareto task positions on which the merge is judged: where the two parents differ,
 * half from each side's wins (seeded), since tasks they tie on cannot show what the merge adds.
 */
export function mergeTasks(a: readonly number[], b: readonly number[], size: number, random: { seed: number; label: string }): number[] {
  const rng = randomFor(random.seed, random.label);
  const winsA = rng.shuffle(a.flatMap((score, t) => (score > b[t]! ? [t] : [])));
  const winsB = rng.shuffle(b.flatMap((score, t) => (score > a[t]! ? [t] : [])));
  const picked: number[] = [];
  while (picked.length < size && (winsA.length > 0 || winsB.length > 0)) {
    const side = (picked.length % 2 === 0 && winsA.length > 0) || winsB.length === 0 ? winsA : winsB;
    picked.push(side.shift()!);
  }
  return picked.sort((x, y) => x - y);
}
