/**
 * A simulated model for offline runs: it answers a sum right with a probability that falls with
 * each carry the sum needs (0.9, 0.5, 0.1), so best-of-N has something to select and some tasks
 * have no right answer among N. Which of a
 * question's answers are right is fixed by the seed and by how often that question was asked —
 * not by the order in which runners' requests interleave — so a run's figures repeat exactly.
 */
import { type MockLlm, type Responder, requestMessages, stableHash, startMockLlm } from "tracetrain/testing";

const SKILL_BY_CARRIES = [0.9, 0.5, 0.1];

export function sumResponder(seed: number): Responder {
  const asked = new Map<string, number>();
  return ({ body }) => {
    const question = requestMessages(body).findLast((m) => m.role === "user")?.text ?? "";
    const match = /(\d+) \+ (\d+)/.exec(question);
    if (match === null) return { text: "I can only add." };
    const k = asked.get(question) ?? 0;
    asked.set(question, k + 1);
    const sum = Number(match[1]) + Number(match[2]);
    const skill = SKILL_BY_CARRIES[Math.min(carries(Number(match[1]), Number(match[2])), 2)]!;
    const right = (stableHash(`${seed}:${question}:${k}`) % 1000) / 1000 < skill;
    const slip = 1 + (stableHash(`${seed}:slip:${question}:${k}`) % 9);
    return { text: `${match[1]} + ${match[2]} = ${right ? sum : sum + slip}` };
  };
}

export function startSumModel(seed: number): Promise<MockLlm> {
  return startMockLlm({ responder: sumResponder(seed) });
}

/** How many digit positions of a + b carry. */
function carries(a: number, b: number): number {
  let count = 0;
  for (let carry = 0; a > 0 || b > 0; a = Math.floor(a / 10), b = Math.floor(b / 10)) {
    carry = (a % 10) + (b % 10) + carry >= 10 ? 1 : 0;
    count += carry;
  }
  return count;
}
