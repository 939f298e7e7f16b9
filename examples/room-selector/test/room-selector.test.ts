/**
 * The room-selector's parts, without the optimizer: the booking world (rules, tool), the agent
 * run through tracetrain against the simulated agent model, and main.ts's flag checking.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { Trainer } from "tracetrain";
import { roomSelector, SEED_PROMPTS } from "../agent.js";
import { listRooms, loadRooms, loadRoomTasks, type RoomTask } from "../rooms.js";
import { startSimulatedRoomModels } from "../simulation/index.js";
import { chooseRoom, RULES, rulesStated } from "../simulation/rules.js";

const rooms = loadRooms();
const tasks = await loadRoomTasks();
const allRules = RULES.map((r) => r.sentence).join("\n");

/** How many tasks an agent that knows exactly the rules `prompt` states gets right. */
function rightWith(prompt: string): number {
  const rules = rulesStated(prompt);
  return tasks.filter((t) => chooseRoom(t.task_input, listRooms(rooms, t.task_input), rules) === t.expected_choice).length;
}

describe("the booking world", () => {
  it("has 57 tasks, every one solved by the six rules and few by the seed prompt", () => {
    assert.equal(tasks.length, 57);
    assert.equal(rightWith(allRules), 57);
    assert.equal(rightWith(SEED_PROMPTS.system.template), 8);
  });

  it("needs every rule: leaving any one out loses some task", () => {
    for (const rule of RULES) {
      const without = RULES.filter((r) => r !== rule).map((r) => r.sentence).join("\n");
      assert.ok(rightWith(without) < 57, `${rule.id} changes no answer`);
    }
  });

  it("lists a room booked over part of the slot as not free", () => {
    const room = rooms.find((r) => r.booked.length > 0)!;
    const [date, time, minutes] = room.booked[0]!;
    const [h, m] = time.split(":").map(Number);
    const overlapping = `${String(h! + Math.floor((m! + minutes - 1) / 60)).padStart(2, "0")}:${String((m! + minutes - 1) % 60).padStart(2, "0")}`;
    const listing = (slot: string) => listRooms(rooms, { date, time: slot, duration_min: 30 }).find((r) => r.id === room.id)!;
    assert.equal(listing(overlapping).free_for_requested_slot, false);
    assert.equal(listing(time).bookings_that_day, room.booked.filter(([d]) => d === date).length);
  });
});

describe("the agent under tracetrain, on the simulated agent model", () => {
  let models: { baseUrl: string; close(): Promise<void> };
  before(async () => {
    models = await startSimulatedRoomModels();
  });
  after(() => models.close());

  const score = async (system: string, sample: readonly RoomTask[]) => {
    const trainer = new Trainer({
      store: "memory",
      runners: 8,
      initialResources: { ...SEED_PROMPTS, system: { kind: "prompt_template", template: system }, main: { kind: "llm", baseUrl: models.baseUrl, model: "room-agent" } },
    });
    try {
      return await trainer.evaluate(roomSelector, sample);
    } finally {
      await trainer.close();
    }
  };

  it("books what its system prompt's rules say, through the tool call and the answer", async () => {
    const sample = tasks.slice(0, 12);
    const seed = await score(SEED_PROMPTS.system.template, sample);
    const told = await score(`${SEED_PROMPTS.system.template}\n${allRules}`, sample);
    assert.equal(seed.succeeded, 12);
    assert.equal(told.meanReward, 1);
    assert.ok(seed.meanReward! < 0.5, `seed prompt scored ${seed.meanReward}`);
  });
});

describe("main.ts", () => {
  it("explains a bad flag with exit code 2", async () => {
    const main = fileURLToPath(new URL("../main.ts", import.meta.url));
    // The working directory is the caller's: the example folder under `npm test` (its node_modules), the repository root under its suite.
    await assert.rejects(promisify(execFile)(process.execPath, ["--import", "tsx", main, "--rounds", "two"]), (error: { code?: number; stderr?: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr ?? "", /--rounds expects a whole number, got 'two'/);
      assert.doesNotMatch(error.stderr ?? "", /\n\s+at /);
      return true;
    });
  });
});
