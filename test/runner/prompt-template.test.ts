import { describe, expect, it } from "vitest";
import { PromptTemplate } from "tracetrain/schemas";
import { ValidationError } from "tracetrain";

describe("PromptTemplate", () => {
  it("fills mustache placeholders, with dotted paths and no HTML escaping", () => {
    const t = new PromptTemplate("Hi {{ name }}, book {{room.id}} for <{{ count }}> people. {{meta}}", "mustache");
    expect(t.variables()).toEqual(["name", "room.id", "count", "meta"]);
    expect(t.format({ name: "Ada & co", room: { id: "R2" }, count: 6, meta: { a: [1] } })).toBe('Hi Ada & co, book R2 for <6> people. {"a":[1]}');
  });

  it("fills f-string placeholders and keeps doubled braces literal", () => {
    const t = new PromptTemplate("Answer {question} as JSON like {{\"answer\": ...}} for {user.name}", "fstring");
    expect(t.variables()).toEqual(["question", "user.name"]);
    expect(t.format({ question: "2+2?", user: { name: "Bo" } })).toBe('Answer 2+2? as JSON like {"answer": ...} for Bo');
  });

  it("names every missing variable and what was given", () => {
    const t = new PromptTemplate("{a} and {b} and {c.d}", "fstring");
    try {
      t.format({ a: 1, c: {} });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      const v = error as ValidationError;
      expect(v.issues.map((i) => i.path)).toEqual(["b", "c.d"]);
      expect(v.message).toMatch(/the template uses \{b\} but no value was given \(given: a, c\)/);
    }
    expect(() => new PromptTemplate("{{x}}").format()).toThrow(/given: nothing/);
  });

  it("renders null, false and 0, which are values, not missing", () => {
    expect(new PromptTemplate("{{a}}|{{b}}|{{c}}").format({ a: null, b: false, c: 0 })).toBe("null|false|0");
  });
});
