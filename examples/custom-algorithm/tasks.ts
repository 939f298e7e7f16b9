/** The example's task: small sums, each scored by whether the answer's last number is the sum. */
/** A type, not an interface, so that it is a JSON value the store accepts as a task. */
export type SumTask = {
  question: string;
  answer: number;
};

/** Twelve sums, the same every run. */
export const TASKS: readonly SumTask[] = Array.from({ length: 12 }, (_, i) => {
  const a = 13 + ((i * 37) % 71);
  const b = 8 + ((i * 53) % 89);
  return { question: `What is ${a} + ${b}?`, answer: a + b };
});

/** 1 when the last number in the reply is the expected sum, else 0. */
export function score(reply: string, task: SumTask): number {
  const numbers = reply.match(/-?\d+/g);
  return numbers !== null && Number(numbers.at(-1)) === task.answer ? 1 : 0;
}
