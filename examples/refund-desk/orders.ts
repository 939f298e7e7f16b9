/**
 * The refund-desk domain: 150 refund requests generated deterministically (no data file, no
 * network), the shop's orders behind them, the `lookup_order` tool, and the evaluator's verdict
 * with its feedback text. The policy that decides the expected answer:
 *
 * 1. an order that does not exist goes to a human (`escalate`);
 * 2. an item that arrived damaged is refunded in full (`refund`), whatever else holds;
 * 3. a final-sale item gets store credit (`credit`);
 * 4. an order delivered more than 30 days ago is refused (`deny`), unless the customer has more
 *    than 3 earlier orders (`refund`);
 * 5. anything else is refunded (`refund`).
 */

export type Decision = "refund" | "credit" | "deny" | "escalate";
export const DECISIONS: readonly Decision[] = ["refund", "credit", "deny", "escalate"];

/** What the customer wrote, as the agent's `request` template receives it. */
export interface RefundRequest {
  customer: string;
  /** As the customer typed it: with or without a leading '#'. */
  order_id: string;
  message: string;
}

export interface RefundTask {
  id: string;
  task_input: RefundRequest;
  expected: Decision;
}

/** An order as the shop's database holds it. */
export interface Order {
  order_id: string;
  customer: string;
  item: string;
  price: number;
  delivered_days_ago: number;
  final_sale: boolean;
  /** Orders the customer placed before this one. */
  earlier_orders: number;
}

/** The kinds of request the generator mixes, each with the answer the policy gives. */
export type Category = "plain" | "damaged" | "final_sale" | "late" | "late_loyal" | "unknown_order";

const CATEGORY_COUNTS: ReadonlyArray<[Category, number]> = [
  ["plain", 25],
  ["damaged", 25],
  ["final_sale", 25],
  ["late", 25],
  ["late_loyal", 25],
  ["unknown_order", 25],
];

const ITEMS = ["blender", "desk lamp", "rain jacket", "headphones", "coffee grinder", "yoga mat", "backpack", "kettle", "phone case", "wool scarf"];
const NAMES = ["Ana", "Ben", "Chloé", "Dev", "Emil", "Fatima", "Goran", "Hana", "Ivo", "Jun", "Kemal", "Lena", "Marta", "Nils", "Oona"];
const DAMAGED_MESSAGES = ["The {item} arrived broken.", "My {item} was damaged when it arrived.", "The {item} came cracked in the box."];
const PLAIN_MESSAGES = ["I changed my mind about the {item}.", "The {item} is not what I expected.", "I no longer need the {item}, can I send it back?"];

/** Words that tell a damaged delivery in a customer's message. */
export const DAMAGE_WORDS = /\b(?:broken|damaged|cracked)\b/i;

/** A small seeded generator (mulberry32): the same tasks on every machine. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Generated {
  tasks: Array<RefundTask & { category: Category; split: Split }>;
  orders: Map<string, Order>;
}

export type Split = "train" | "val" | "test";

function generate(): Generated {
  const random = generator(16);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const tasks: Generated["tasks"] = [];
  const orders = new Map<string, Order>();
  let serial = 0;
  for (const [category, count] of CATEGORY_COUNTS) {
    for (let i = 0; i < count; i++) {
      serial++;
      const orderId = `A${10_000 + serial * 37}`;
      const item = pick(ITEMS);
      const customer = pick(NAMES);
      // Damaged deliveries come in every other shape, so the damage rule has to win over the others.
      const shape = category === "damaged" ? (["plain", "final_sale", "late"] as const)[i % 3]! : category;
      const order: Order = {
        order_id: orderId,
        customer,
        item,
        price: between(12, 240),
        delivered_days_ago: shape === "late" || shape === "late_loyal" ? between(35, 90) : between(2, 28),
        final_sale: shape === "final_sale",
        earlier_orders: shape === "late_loyal" ? between(4, 9) : shape === "late" ? between(0, 3) : between(0, 9),
      };
      if (category !== "unknown_order") orders.set(orderId, order);
      const message = (category === "damaged" ? pick(DAMAGED_MESSAGES) : pick(PLAIN_MESSAGES)).replace("{item}", item);
      // Half the customers type the id with a '#': the tool only knows it without.
      const typed = i % 2 === 0 ? `#${orderId}` : orderId;
      const split: Split = (["train", "val", "val", "test", "test"] as const)[i % 5]!;
      tasks.push({ id: `refund-${String(serial).padStart(3, "0")}`, task_input: { customer, order_id: typed, message }, expected: EXPECTED[category], category, split });
    }
  }
  // Shuffled once, so no split lists its categories in blocks.
  for (let i = tasks.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [tasks[i], tasks[j]] = [tasks[j]!, tasks[i]!];
  }
  return { tasks, orders };
}

const EXPECTED: Record<Category, Decision> = { plain: "refund", damaged: "refund", final_sale: "credit", late: "deny", late_loyal: "refund", unknown_order: "escalate" };

const generated = generate();

/** Every task with its category and split (for tests and reports; the agent sees only `RefundTask`). */
export const ALL_TASKS: ReadonlyArray<RefundTask & { category: Category; split: Split }> = generated.tasks;

function strip({ category: _category, split: _split, ...task }: RefundTask & { category: Category; split: Split }): RefundTask {
  return task;
}

/** The fixed split: 30 training tasks (the optimizers read these runs), 60 to select on, 60 held out. */
export const SPLITS: Readonly<Record<Split, readonly RefundTask[]>> = {
  train: ALL_TASKS.filter((t) => t.split === "train").map(strip),
  val: ALL_TASKS.filter((t) => t.split === "val").map(strip),
  test: ALL_TASKS.filter((t) => t.split === "test").map(strip),
};

/** What `lookup_order` returns. */
export type LookupResult =
  | (Omit<Order, "earlier_orders"> & { history?: { earlier_orders: number } })
  | { error: string };

/** The `lookup_order` tool: ids are stored without '#', and the history comes only when asked for. */
export function lookupOrder(args: { order_id?: unknown; include_history?: unknown }): LookupResult {
  if (typeof args.order_id !== "string") return { error: "order_id must be a string" };
  const order = generated.orders.get(args.order_id.trim());
  if (!order) return { error: `order not found: ${args.order_id}` };
  const { earlier_orders, ...rest } = order;
  return args.include_history === true ? { ...rest, history: { earlier_orders } } : rest;
}

/** The decision a reply names (the first of the four words it contains), if any. */
export function answerOf(text: string | null | undefined): Decision | undefined {
  if (!text) return undefined;
  const found = DECISIONS.map((d) => ({ d, at: text.toLowerCase().search(new RegExp(`\\b${d}\\b`)) })).filter((x) => x.at >= 0);
  return found.sort((a, b) => a.at - b.at)[0]?.d;
}

/** One `lookup_order` call the agent made: its arguments and the tool's answer. */
export interface ToolCallRecord {
  arguments: Record<string, unknown>;
  result: LookupResult;
}

/** Why the policy gives the expected answer, in the shop's words. */
function reason(task: RefundTask, order: Order | undefined): string {
  if (!order) return `order ${task.task_input.order_id.replace(/^#/, "")} does not exist, so a person must look into it`;
  if (DAMAGE_WORDS.test(task.task_input.message)) return `the ${order.item} arrived damaged, which is always refunded in full`;
  if (order.final_sale) return `item '${order.item}' was final sale, which gets store credit`;
  if (order.delivered_days_ago > 30) {
    return order.earlier_orders > 3
      ? `it was delivered ${order.delivered_days_ago} days ago, but the customer has ${order.earlier_orders} earlier orders (more than 3)`
      : `it was delivered ${order.delivered_days_ago} days ago (over 30) and the customer has only ${order.earlier_orders} earlier orders`;
  }
  return `the ${order.item} was delivered ${order.delivered_days_ago} days ago and is refundable`;
}

const PAST: Record<Decision, string> = { refund: "refunded", credit: "offered credit", deny: "denied", escalate: "escalated" };

/**
 * The evaluator's feedback on one run, in task terms: what was expected and why, what the agent
 * did, and what in its tool calls went wrong — e.g. "expected credit: item 'kettle' was final
 * sale, which gets store credit; the agent refunded".
 */
export function feedbackFor(task: RefundTask, answer: Decision | undefined, toolTrace: readonly ToolCallRecord[]): string {
  const order = generated.orders.get(task.task_input.order_id.replace(/^#/, ""));
  const did = answer === undefined ? "the agent gave no decision" : `the agent ${PAST[answer]}`;
  const head = answer === task.expected ? `correct: ${task.expected}, as ${reason(task, order)}` : `expected ${task.expected}: ${reason(task, order)}; ${did}`;
  const notes: string[] = [];
  if (toolTrace.length === 0) notes.push("the agent never looked the order up");
  for (const call of toolTrace) {
    if (order && "error" in call.result) notes.push(`the lookup of '${String(call.arguments.order_id)}' failed (${call.result.error}) although the order exists`);
  }
  const late = order !== undefined && order.delivered_days_ago > 30 && !order.final_sale && !DAMAGE_WORDS.test(task.task_input.message);
  if (late && !toolTrace.some((c) => c.arguments.include_history === true)) notes.push("the agent did not ask for the customer's order history");
  return [head, ...notes].join("; ");
}

/** 1 for the expected decision, else 0. */
export function rewardFor(task: RefundTask, answer: Decision | undefined): number {
  return answer === task.expected ? 1 : 0;
}
