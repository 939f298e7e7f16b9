/**
 * Replays a recorded stream (test/llm/fixtures/*.sse) the way the gateway and the fetch wrapper
 * read one: bytes in pieces, through a streaming UTF-8 decoder and the SSE parser, each event's
 * JSON into the API's accumulator. Every fixture is replayed with each line ending the format
 * allows and cut in awkward places — inside lines, inside multi-byte characters, between the `\r`
 * and `\n` of a line ending — since a transport may cut a stream anywhere.
 */
import { readFileSync } from "node:fs";
import { expect } from "vitest";
import { type SseEvent, type StreamAccumulator, type WireApi, SseParser, createAccumulator } from "../../src/llm/index.js";

interface Replay {
  /** How the stream was written and cut, for the assertion message. */
  how: string;
  accumulator: StreamAccumulator;
  /** The events the parser delivered (the terminating `[DONE]` included). */
  events: SseEvent[];
}

/** What a replay amounts to: the response and the accumulator's verdicts. */
export interface Outcome {
  response: ReturnType<StreamAccumulator["result"]>;
  received: boolean;
  complete: boolean;
  error: StreamAccumulator["error"];
}

const LINE_ENDINGS: Record<string, string> = { LF: "\n", CRLF: "\r\n", CR: "\r" };

/** Ways to cut a stream's bytes into the pieces a socket delivers. */
const CUTS: Record<string, (bytes: Buffer) => Buffer[]> = {
  whole: (bytes) => [bytes],
  "byte by byte": (bytes) => Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1)),
  "inside every line": (bytes) => cutAt(bytes, middlesOfLines(bytes)),
  "after every \\r": (bytes) => cutAt(bytes, positionsAfter(bytes, 13)),
  "in pieces of 1 to 40 bytes": (bytes) => cutAt(bytes, seededPositions(bytes.length, 40)),
};

function fixture(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");
}

/** Every way of writing and cutting the fixture, replayed into a fresh accumulator of `api`. */
function replays(api: WireApi, name: string): Replay[] {
  const text = fixture(name);
  const out: Replay[] = [];
  for (const [ending, eol] of Object.entries(LINE_ENDINGS)) {
    const bytes = Buffer.from(text.replaceAll("\n", eol), "utf8");
    for (const [cut, pieces] of Object.entries(CUTS)) out.push({ how: `${name}, ${ending} line endings, cut ${cut}`, ...replay(api, pieces(bytes)) });
  }
  return out;
}

/**
 * Replays the fixture every way: each must deliver the events a whole read of the file does
 * (`events` of them) and end in exactly `expected`.
 */
export function expectReplays(api: WireApi, name: string, events: number, expected: Outcome): void {
  const all = replays(api, name);
  expect(all).toHaveLength(Object.keys(LINE_ENDINGS).length * Object.keys(CUTS).length);
  // The first replay reads the file as written, in one piece.
  expect(all[0]!.events).toHaveLength(events);
  for (const replay of all) {
    expect(replay.events, replay.how).toEqual(all[0]!.events);
    expect(outcome(replay.accumulator), replay.how).toEqual(expected);
  }
}

function outcome(accumulator: StreamAccumulator): Outcome {
  return { response: accumulator.result(), received: accumulator.received, complete: accumulator.complete, error: accumulator.error };
}

function replay(api: WireApi, pieces: Buffer[]): { accumulator: StreamAccumulator; events: SseEvent[] } {
  const accumulator = createAccumulator(api);
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const events: SseEvent[] = [];
  const take = (batch: SseEvent[]) => {
    for (const event of batch) {
      events.push(event);
      // A fixture that is not valid JSON is a broken fixture: let JSON.parse say so.
      if (event.data !== "[DONE]") accumulator.add(JSON.parse(event.data) as unknown, event.event);
    }
  };
  for (const piece of pieces) take(parser.push(decoder.decode(piece, { stream: true })));
  take([...parser.push(decoder.decode()), ...parser.end()]);
  return { accumulator, events };
}

function cutAt(bytes: Buffer, positions: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let start = 0;
  for (const position of [...new Set(positions)].sort((a, b) => a - b)) {
    if (position <= start || position >= bytes.length) continue;
    pieces.push(bytes.subarray(start, position));
    start = position;
  }
  pieces.push(bytes.subarray(start));
  return pieces;
}

function positionsAfter(bytes: Buffer, byte: number): number[] {
  const positions: number[] = [];
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === byte) positions.push(i + 1);
  return positions;
}

/** The middle of every line (whatever its ending), so no line arrives whole. */
function middlesOfLines(bytes: Buffer): number[] {
  const positions: number[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 10 && bytes[i] !== 13) continue;
    if (i - start > 1) positions.push(start + Math.floor((i - start) / 2));
    start = i + 1;
  }
  return positions;
}

/** Cut positions from a fixed-seed generator: arbitrary, yet the same on every run. */
function seededPositions(length: number, largest: number): number[] {
  const positions: number[] = [];
  let seed = 0x2545f491;
  for (let position = 0; position < length; ) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    position += 1 + (seed % largest);
    positions.push(position);
  }
  return positions;
}
