/**
 * The room-selection domain: seven meeting rooms with their bookings, 57 booking requests with
 * the room that should be chosen, and the `get_rooms_and_availability` tool. The data comes from
 * Microsoft Agent Lightning's APO example (MIT licence; see data/NOTICE.md).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface Room {
  id: string;
  capacity: number;
  equipment: string[];
  accessible: boolean;
  distance_m: number;
  /** `[date, start HH:MM, minutes]` */
  booked: Array<[string, string, number]>;
}

export interface RoomRequest {
  date: string;
  time: string;
  duration_min: number;
  attendees: number;
  needs: string[];
  accessible_required: boolean;
}

export interface RoomTask {
  id: string;
  task_input: RoomRequest;
  expected_choice: string;
}

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

export function loadRoomTasks(): RoomTask[] {
  return readFileSync(fileURLToPath(new URL("room_tasks.jsonl", DATA)), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as RoomTask);
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

