/**
 * The room-selection domain: seven meeting rooms with their bookings, 57 booking requests with
 * the room that should be chosen, and the `get_rooms_and_availability` tool. The data comes from
 * Microsoft Agent Lightning's APO example (MIT licence; see data/NOTICE.md).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadDataset } from "tracetrain";
import { z } from "zod";

export interface Room {
  id: string;
  capacity: number;
  equipment: string[];
  accessible: boolean;
  distance_m: number;
  /** `[date, start HH:MM, minutes]` */
  booked: Array<[string, string, number]>;
}

const RoomRequestSchema = z.strictObject({
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  time: z.string().regex(/^\d{2}:\d{2}$/),
  duration_min: z.number().int().positive(),
  attendees: z.number().int().positive(),
  needs: z.array(z.string()),
  accessible_required: z.boolean(),
});
export type RoomRequest = z.infer<typeof RoomRequestSchema>;

const RoomTaskSchema = z.strictObject({ id: z.string(), task_input: RoomRequestSchema, expected_choice: z.string() });
export type RoomTask = z.infer<typeof RoomTaskSchema>;

/** What `get_rooms_and_availability` returns for one room. */
export interface RoomListing {
  id: string;
  capacity: number;
  equipment: string[];
  accessible: boolean;
  distance_m: number;
  free_for_requested_slot: boolean;
  bookings_that_day: number;
}

const DATA = new URL("./data/", import.meta.url);

export function loadRooms(): Room[] {
  return (JSON.parse(readFileSync(fileURLToPath(new URL("rooms.json", DATA)), "utf8")) as { rooms: Room[] }).rooms;
}

/** The 57 booking requests, each checked: a malformed line is reported as `room_tasks.jsonl:LINE: …`. */
export function loadRoomTasks(): Promise<RoomTask[]> {
  return loadDataset(fileURLToPath(new URL("room_tasks.jsonl", DATA)), { schema: RoomTaskSchema });
}

function minutes(time: string): number {
  const [h, m] = time.split(":").map(Number);
  return h! * 60 + m!;
}

/** The tool's answer: every room, with whether it is free for the slot. */
export function listRooms(rooms: readonly Room[], slot: { date: string; time: string; duration_min: number }): RoomListing[] {
  const start = minutes(slot.time);
  const end = start + slot.duration_min;
  return rooms.map((room) => {
    const sameDay = room.booked.filter(([date]) => date === slot.date);
    const busy = sameDay.some(([, time, length]) => start < minutes(time) + length && minutes(time) < end);
    return { id: room.id, capacity: room.capacity, equipment: room.equipment, accessible: room.accessible, distance_m: room.distance_m, free_for_requested_slot: !busy, bookings_that_day: sameDay.length };
  });
}

