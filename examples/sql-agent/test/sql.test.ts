/** The database side: read-only, errors as results, the row cap, the timeout, and the verifier's comparison. */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { verify, type GoldAnswer } from "../eval-set.js";
import { describeResult, schemaText, SqlRunner } from "../sql.js";

describe("SqlRunner", () => {
  const sql = new SqlRunner(undefined, { timeoutMs: 1500, maxRows: 50 });
  after(() => sql.close());

  it("answers a query with its columns and rows", async () => {
    const result = await sql.run("SELECT Name FROM Genre WHERE GenreId <= 2 ORDER BY GenreId");
    assert.deepEqual(result, { ok: true, columns: ["Name"], rows: [["Rock"], ["Jazz"]], truncated: false });
  });

  it("refuses to change the database, as an error result", async () => {
    for (const statement of ["DELETE FROM Genre", "UPDATE Genre SET Name = 'x'", "DROP TABLE Genre"]) {
      const result = await sql.run(statement);
      assert.equal(result.ok, false, statement);
    }
    assert.deepEqual(await sql.run("SELECT COUNT(*) FROM Genre"), { ok: true, columns: ["COUNT(*)"], rows: [[25]], truncated: false });
  });

  it("returns SQLite's error text instead of throwing", async () => {
    const result = await sql.run('SELECT COUNT(*) FROM Genre WHERE Name = "Rock"');
    assert.equal(result.ok, false);
    assert.match(describeResult(result), /^ERROR: no such column: "Rock"/);
  });

  it("cuts a long result at the row cap and says so", async () => {
    const result = await sql.run("SELECT TrackId FROM Track");
    assert.ok(result.ok);
    assert.equal(result.rows.length, 50);
    assert.equal(result.truncated, true);
  });

  it("stops a runaway query at the timeout, then runs the next one", async () => {
    const runaway = await sql.run("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT COUNT(*) FROM n");
    assert.deepEqual(runaway, { ok: false, error: "the query ran longer than 1500 ms and was stopped" });
    assert.deepEqual(await sql.run("SELECT 1 AS one"), { ok: true, columns: ["one"], rows: [[1]], truncated: false });
  });

  it("shows the writer every table with its keys", () => {
    const schema = schemaText();
    assert.equal(schema.split("\n").length, 11);
    assert.match(schema, /^Customer\(CustomerId PK, .*SupportRepId → Employee\.EmployeeId\)$/m);
  });
});

describe("verify", () => {
  const gold = (rows: unknown[][], ordered = false): GoldAnswer => ({ item: { id: "q", question: "?", sql: "SELECT 1", ordered }, rows });
  const ok = (rows: unknown[][]) => ({ ok: true as const, columns: rows[0]?.map((_, i) => `c${i}`) ?? [], rows, truncated: false });

  it("compares rows as a multiset unless the question asks for an order", () => {
    assert.equal(verify(ok([["b", 2], ["a", 1]]), gold([["a", 1], ["b", 2]])).correct, true);
    assert.equal(verify(ok([["b", 2], ["a", 1]]), gold([["a", 1], ["b", 2]], true)).correct, false);
    assert.equal(verify(ok([["a", 1], ["a", 1]]), gold([["a", 1], ["b", 2]])).correct, false);
  });

  it("takes numbers within rounding to two places as equal", () => {
    assert.equal(verify(ok([[826.65]]), gold([[826.6500000000061]])).correct, true);
    assert.equal(verify(ok([[826.7]]), gold([[826.65]])).correct, false);
  });

  it("says why a result is wrong", () => {
    assert.equal(verify(ok([[1], [2]]), gold([[1]])).detail, "expected 1 row(s), got 2");
    assert.equal(verify(ok([[1, 2]]), gold([[1]])).detail, "expected 1 column(s), got 2");
    assert.equal(verify({ ok: false, error: "boom" }, gold([[1]])).detail, "the query failed: boom");
    assert.equal(verify({ ok: true, columns: ["x"], rows: [[1]], truncated: true }, gold([[1]])).correct, false);
  });
});
