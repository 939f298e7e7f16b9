/**
 * The rules of the room-selection world (its rooms, requests and tool live in `../rooms.ts`).
 * The simulated models in `models.ts` use it: the
 * agent model follows only the rules its system prompt states, and the optimizer model knows the
 * rules and proposes the one that would have fixed the most observed failures.
 */
import type { RoomListing, RoomRequest } from "../rooms.js";

export { listRooms, loadRooms, loadRoomTasks, type Room, type RoomListing, type RoomRequest, type RoomTask } from "../rooms.js";

export type RuleId = "free" | "capacity" | "equipment" | "accessible" | "tiebreak" | "no_room";

/** A rule of the task: the sentence that states it, and how the simulated agent recognises it in a system prompt. */
export interface Rule {
  id: RuleId;
  sentence: string;
  stated: RegExp;
}

export const RULES: readonly Rule[] = [
  { id: "free", sentence: "Only pick a room that is free for the whole meeting: none of its bookings may overlap the requested start time and duration.", stated: /\bfree\b|\bbooked\b|\bbookings\b|\boverlap/i },
  { id: "capacity", sentence: "The room's capacity must be at least the number of attendees.", stated: /capacity/i },
  { id: "equipment", sentence: "The room must have every piece of equipment the meeting needs.", stated: /equipment/i },
  { id: "accessible", sentence: "When an accessible room is required, only pick rooms marked accessible.", stated: /accessib/i },
  {
    id: "tiebreak",
    sentence: "If several rooms qualify, prefer the smallest room that fits (fewest spare seats), then the fewest extra devices, then the shortest walking distance, then the fewest meetings that day.",
    stated: /fewest spare seats|smallest room/i,
  },
  { id: "no_room", sentence: 'If no room meets every requirement, reply exactly "No Room".', stated: /No Room/ },
];

/** The rules a prompt states. */
export function rulesStated(prompt: string): Set<RuleId> {
  return new Set(RULES.filter((rule) => rule.stated.test(prompt)).map((rule) => rule.id));
}

/**
 * The room an agent picks when it follows exactly `rules`: it filters by the hard rules it knows,
 * takes the first room in listing order unless it knows the tie-break, and — when nothing is
 * left — says "No Room" only if told to, else falls back to the first room listed.
 */
export function chooseRoom(request: RoomRequest, listing: readonly RoomListing[], rules: ReadonlySet<RuleId>): string {
  const fits = listing.filter(
    (room) =>
      (!rules.has("free") || room.free_for_requested_slot) &&
      (!rules.has("capacity") || room.capacity >= request.attendees) &&
      (!rules.has("equipment") || request.needs.every((need) => room.equipment.includes(need))) &&
      (!rules.has("accessible") || !request.accessible_required || room.accessible),
  );
  if (fits.length === 0) return rules.has("no_room") ? "No Room" : (listing[0]?.id ?? "No Room");
  if (!rules.has("tiebreak")) return fits[0]!.id;
  const extra = (room: RoomListing) => room.equipment.filter((e) => !request.needs.includes(e)).length;
  return [...fits].sort(
    (a, b) => a.capacity - b.capacity || extra(a) - extra(b) || a.distance_m - b.distance_m || a.bookings_that_day - b.bookings_that_day,
  )[0]!.id;
}

/** The rules an answer breaks — what a careful reviewer of a failed run would point out. */
export function violatedRules(request: RoomRequest, listing: readonly RoomListing[], answer: string, expected: string): RuleId[] {
  if (answer === expected) return [];
  const room = listing.find((r) => r.id === answer);
  if (!room) return expected === "No Room" ? [] : ["no_room"];
  const broken: RuleId[] = [];
  if (!room.free_for_requested_slot) broken.push("free");
  if (room.capacity < request.attendees) broken.push("capacity");
  if (!request.needs.every((need) => room.equipment.includes(need))) broken.push("equipment");
  if (request.accessible_required && !room.accessible) broken.push("accessible");
  if (expected === "No Room") broken.push("no_room");
  else if (broken.length === 0) broken.push("tiebreak");
  return broken;
}
