/**
 * The wire format of store events sent between processes with PostgreSQL NOTIFY.
 *
 * A payload is `{"v":1,"o":ORIGIN,"e":[event, …]}`: the sending engine's random id (so an engine
 * can ignore its own announcements, which PostgreSQL echoes back to every listener) and a batch of
 * events in the order they happened. PostgreSQL refuses payloads of 8000 bytes or more, so events
 * are packed greedily into payloads under {@link PAYLOAD_LIMIT_BYTES}, and the one kind of event
 * that can be large — an attempt event carrying a long error message — has its message trimmed:
 * receivers use events to wake and to notify, and the full message stays in the database.
 */
import { createHash } from "node:crypto";
import { type StoreEvent, StoreEventSchema } from "../../types/index.js";

/** Below PostgreSQL's 8000-byte NOTIFY payload limit, with room to spare. */
export const PAYLOAD_LIMIT_BYTES = 7900;
const FORMAT_VERSION = 1;
const TRIMMED = "… (trimmed in the cross-process event; the stored attempt has the full message)";

/** The NOTIFY channel of a schema. Channel names are identifiers, so at most 63 bytes. */
export function channelFor(schema: string): string {
  const plain = `${schema}_events`;
  if (plain.length <= 63) return plain;
  const hash = createHash("sha256").update(schema).digest("hex").slice(0, 12);
  return `${schema.slice(0, 63 - 8 - hash.length)}_${hash}_events`;
}

/** Packs events into as few payloads as fit, keeping their order. */
export function encodeAnnouncements(origin: string, events: readonly StoreEvent[]): string[] {
  const budget = PAYLOAD_LIMIT_BYTES - Buffer.byteLength(envelope(origin, ""));
  const payloads: string[] = [];
  let batch: string[] = [];
  let used = 0;
  for (const event of events) {
    const json = fitEvent(event, budget);
    const bytes = Buffer.byteLength(json);
    if (batch.length > 0 && used + 1 + bytes > budget) {
      payloads.push(envelope(origin, batch.join(",")));
      batch = [];
      used = 0;
    }
    used += (batch.length > 0 ? 1 : 0) + bytes;
    batch.push(json);
  }
  if (batch.length > 0) payloads.push(envelope(origin, batch.join(",")));
  return payloads;
}

function envelope(origin: string, events: string): string {
  return `{"v":${FORMAT_VERSION},"o":${JSON.stringify(origin)},"e":[${events}]}`;
}

/** An event's JSON, trimming an attempt error message that would not fit in a payload on its own. */
function fitEvent(event: StoreEvent, budget: number): string {
  const json = JSON.stringify(event);
  if (Buffer.byteLength(json) <= budget || event.type !== "attempt" || event.error === null) return json;
  const { message } = event.error;
  const overhead = Buffer.byteLength(json) - Buffer.byteLength(JSON.stringify(message));
  const room = budget - overhead - Buffer.byteLength(JSON.stringify(TRIMMED));
  // Characters may take several bytes (or an escape), so shrink until the serialized part fits.
  let keep = Math.max(0, Math.min(message.length, room));
  let cut = message.slice(0, keep);
  while (keep > 0 && Buffer.byteLength(JSON.stringify(cut)) > room) {
    keep = Math.floor(keep * 0.9);
    cut = message.slice(0, keep);
  }
  // Never end on half of a surrogate pair.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return JSON.stringify({ ...event, error: { ...event.error, message: cut + TRIMMED } });
}

/** A decoded payload, or why it was rejected. */
export type Announcement = { ok: true; origin: string; events: StoreEvent[] } | { ok: false; reason: string };

/**
 * Decodes a payload. Anyone who can connect may NOTIFY on the channel, so the payload is checked
 * against the event schema rather than trusted.
 */
export function decodeAnnouncement(payload: string): Announcement {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return { ok: false, reason: "payload is not JSON" };
  }
  if (typeof parsed !== "object" || parsed === null) return { ok: false, reason: "payload is not an object" };
  const { v, o, e } = parsed as { v?: unknown; o?: unknown; e?: unknown };
  if (v !== FORMAT_VERSION) return { ok: false, reason: `unknown payload version ${JSON.stringify(v)}` };
  if (typeof o !== "string" || !Array.isArray(e)) return { ok: false, reason: "payload lacks its origin or events" };
  const events: StoreEvent[] = [];
  for (const item of e) {
    const result = StoreEventSchema.safeParse(item);
    if (!result.success) return { ok: false, reason: `invalid event: ${result.error.issues[0]?.message ?? "unknown problem"}` };
    events.push(result.data);
  }
  return { ok: true, origin: o, events };
}
