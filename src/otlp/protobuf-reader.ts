/**
 * A small reader for the protobuf wire format, for decoding bodies sent by strangers (OTLP ingest).
 *
 * Written by hand rather than generated: we need a handful of messages, and what matters is that a
 * hostile body can do nothing but fail. Every read is checked against the end of the message it
 * belongs to — a varint may not run past it, a length may not point past it, a nested message must
 * end exactly where its length says — so a truncated or lying body is rejected with a
 * ValidationError (a 400) and never reads out of bounds, loops or allocates more than it holds.
 * Every field read consumes at least one byte, so a decoding loop always ends. The reader itself
 * does not recurse; callers that do (OTLP's AnyValue) bound their own depth.
 */
import { ValidationError } from "../types/index.js";

/** Wire types (the low 3 bits of a tag). 3 and 4 are proto2's groups, which OTLP never uses. */
export const WireType = { varint: 0, fixed64: 1, lengthDelimited: 2, fixed32: 5 } as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

const WIRE_TYPE_NAMES: Record<number, string> = { 0: "varint", 1: "fixed64", 2: "length-delimited", 5: "fixed32" };
const TWO_POW_32 = 0x1_0000_0000;
/** `hi` below this means `hi * 2^32 + lo` is a safe integer. */
const SAFE_HI = 0x20_0000;

export class ProtobufReader {
  private readonly buf: Buffer;
  private pos = 0;
  /** End of the innermost message being read; `message()` narrows it and restores it after. */
  private end: number;
  /** The last varint, as unsigned 32-bit halves (no allocation, no precision loss). */
  private lo = 0;
  private hi = 0;
  /** Field number and wire type of the last tag read by {@link nextTag}. */
  field = 0;
  wireType = 0;

  constructor(bytes: Uint8Array) {
    // A view, not a copy: Buffer's own utf8/hex slicing is the fastest way to read strings and ids.
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.end = this.buf.length;
  }

  /** Whether the message being read has more fields. */
  more(): boolean {
    return this.pos < this.end;
  }

  /** Reads the next tag into {@link field} and {@link wireType}. */
  nextTag(): void {
    const at = this.pos;
    this.varint();
    const field = this.lo >>> 3;
    const wireType = this.lo & 7;
    if (this.hi !== 0 || field === 0) this.fail(`invalid field number in tag at byte ${at}`, at);
    if (WIRE_TYPE_NAMES[wireType] === undefined) this.fail(`unsupported wire type ${wireType} for field ${field}`, at);
    this.field = field;
    this.wireType = wireType;
  }

  /** Rejects the field unless it has the wire type its schema says; a mismatch means the body is not what it claims. */
  expect(wireType: WireType): void {
    if (this.wireType !== wireType) {
      this.fail(`field ${this.field} has wire type ${WIRE_TYPE_NAMES[this.wireType]}, expected ${WIRE_TYPE_NAMES[wireType]}`);
    }
  }

  /** Skips the current field's value, whatever its wire type: unknown fields are allowed (newer senders add them). */
  skip(): void {
    switch (this.wireType) {
      case WireType.varint:
        this.varint();
        return;
      case WireType.fixed64:
        this.advance(8);
        return;
      case WireType.lengthDelimited:
        this.advance(this.length());
        return;
      case WireType.fixed32:
        this.advance(4);
        return;
    }
  }

  /** A `uint32` or enum: the low 32 bits, as protobuf itself truncates. */
  uint32(): number {
    this.expect(WireType.varint);
    this.varint();
    return this.lo;
  }

  bool(): boolean {
    this.expect(WireType.varint);
    this.varint();
    return this.lo !== 0 || this.hi !== 0;
  }

  /** An `int64` (two's complement varint): a number when it is a safe integer, else a bigint. */
  int64(): number | bigint {
    this.expect(WireType.varint);
    this.varint();
    const { lo, hi } = this;
    if (hi < SAFE_HI) return hi * TWO_POW_32 + lo;
    if (hi >= 0x8000_0000) {
      // Negative: negate the two halves (two's complement) and check the magnitude is safe.
      const negLo = (~lo + 1) >>> 0;
      const negHi = (~hi + (negLo === 0 ? 1 : 0)) >>> 0;
      if (negHi < SAFE_HI) return -(negHi * TWO_POW_32 + negLo);
    }
    return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
  }

  /** A `fixed64` as an exact unsigned bigint (OTLP timestamps are nanoseconds, past 2^53). */
  fixed64(): bigint {
    this.expect(WireType.fixed64);
    const at = this.advance(8);
    return this.buf.readBigUInt64LE(at);
  }

  double(): number {
    this.expect(WireType.fixed64);
    return this.buf.readDoubleLE(this.advance(8));
  }

  fixed32(): number {
    this.expect(WireType.fixed32);
    return this.buf.readUInt32LE(this.advance(4));
  }

  /** A `string` field; invalid UTF-8 becomes U+FFFD rather than failing the request. */
  string(): string {
    this.expect(WireType.lengthDelimited);
    const length = this.length();
    const at = this.advance(length);
    return this.buf.toString("utf8", at, at + length);
  }

  /** A `bytes` field as lowercase hex (how ids and binary values are written everywhere else). */
  hex(): string {
    this.expect(WireType.lengthDelimited);
    const length = this.length();
    const at = this.advance(length);
    return this.buf.toString("hex", at, at + length);
  }

  /**
   * Reads an embedded message with `read`, which sees only that message's bytes: `more()` is
   * false at its end, and nothing it reads can run past it.
   */
  message<T>(read: () => T): T {
    this.expect(WireType.lengthDelimited);
    const length = this.length();
    const outer = this.end;
    this.end = this.pos + length;
    const result = read();
    if (this.pos !== this.end) this.fail("embedded message not fully read");
    this.end = outer;
    return result;
  }

  /** A length prefix, which must fit in what is left of the current message. */
  private length(): number {
    const at = this.pos;
    this.varint();
    if (this.hi !== 0 || this.lo > this.end - this.pos) {
      const declared = this.hi === 0 ? String(this.lo) : "over 4 GiB";
      this.fail(`length ${declared} at byte ${at} runs past the end of its message (${this.end - this.pos} bytes left)`, at);
    }
    return this.lo;
  }

  /** Moves past `count` bytes of the current message; returns where they start. */
  private advance(count: number): number {
    const at = this.pos;
    if (count > this.end - at) this.fail(`field ${this.field} needs ${count} bytes, ${this.end - at} left in its message`);
    this.pos = at + count;
    return at;
  }

  /**
   * Reads a base-128 varint into `lo`/`hi`: at most 10 bytes, never past the current message, and
   * the 10th byte may only carry the 64th bit — anything longer or larger is malformed.
   */
  private varint(): void {
    const { buf, end } = this;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    for (let i = 0; ; i++) {
      if (pos >= end) this.fail("truncated varint", this.pos);
      const byte = buf[pos++]!;
      const bits = byte & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= bits << 28; // the low 4 bits land in lo (the rest shift out) …
        hi = bits >>> 4; // … and the high 3 in hi
      } else if (i < 9) hi |= bits << (7 * i - 32);
      else if (bits > 1) this.fail("varint overflows 64 bits", this.pos);
      else hi |= bits << 31;
      if ((byte & 0x80) === 0) break;
      if (i === 9) this.fail("varint longer than 10 bytes", this.pos);
    }
    this.pos = pos;
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  private fail(message: string, at = this.pos): never {
    throw new ValidationError("protobuf body", [{ path: `byte ${at}`, message }]);
  }
}
