// Runs the agents' queries on a read-only connection in a process of its own, so that a runaway
// query can be stopped by killing it: better-sqlite3 is synchronous, has no timeout, and a thread
// cannot be terminated while SQLite is inside one long step. Plain JavaScript, so it starts the
// same under tsx, node and any test runner.
import Database from "better-sqlite3";

const db = new Database(process.argv[2], { readonly: true, fileMustExist: true });
// The parent starts its clock on a query only from here: starting a process is not the query's time.
process.send({ ready: true });

process.on("message", ({ id, sql, maxRows }) => {
  try {
    const statement = db.prepare(sql);
    if (!statement.reader) throw new Error("only queries that return rows are run (SELECT or WITH … SELECT)");
    const rows = [];
    let truncated = false;
    for (const row of statement.raw(true).iterate()) {
      if (rows.length === maxRows) {
        truncated = true;
        break;
      }
      rows.push(row);
    }
    const columns = statement.columns().map((c) => c.name);
    process.send({ id, ok: true, columns, rows: rows.map((r) => r.map(plain)), truncated });
  } catch (error) {
    process.send({ id, ok: false, error: error instanceof Error ? error.message : String(error) });
  }
});

// BigInt and Buffer values cannot be compared as JSON; a query over Chinook returns neither, but one written by a model may.
function plain(value) {
  if (typeof value === "bigint") return Number(value);
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  return value;
}
