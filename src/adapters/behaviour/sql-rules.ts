/**
 * Destructive SQL in a string: `DROP`, `TRUNCATE`, `ALTER` of a table, database, schema or role,
 * and `DELETE` or `UPDATE` without a `WHERE` — in any statement of a multi-statement string,
 * after comments and string literals are taken out (so `SELECT * FROM log WHERE note = 'drop
 * table x'` and `-- DROP TABLE later` are not findings). A statement must have SQL's shape: `DROP
 * TABLE` followed by names and nothing else, so prose such as "drop table reservations for Friday"
 * is not SQL.
 */

/** One destructive statement found. */
export interface SqlHit {
  /** `DROP TABLE`, `DELETE without WHERE`, … */
  what: string;
  /** The statement, comments and literals removed. */
  statement: string;
}

const NAME = String.raw`(?:[\w$]+|"[^"]*"|\x60[^\x60]*\x60|\[[^\]]*\])(?:\.(?:[\w$]+|"[^"]*"|\x60[^\x60]*\x60|\[[^\]]*\]))*`;
const NAMES = `${NAME}(?:\\s*,\\s*${NAME})*`;
/** What may close a statement embedded in another language: a quote, a paren (`psql -c "DROP TABLE t"`, `execute("…")`). */
const TAIL = String.raw`[\s"'\x60)]*$`;

const RULES: Array<{ what: string; pattern: RegExp }> = [
  { what: "DROP", pattern: new RegExp(String.raw`(?:^|[\s"'\x60(])DROP\s+(?:TEMPORARY\s+)?(TABLE|DATABASE|SCHEMA|VIEW|INDEX|USER|ROLE|SEQUENCE|FUNCTION|TRIGGER)\s+(?:IF\s+EXISTS\s+)?${NAMES}(?:\s+(?:CASCADE|RESTRICT))?${TAIL}`, "i") },
  { what: "TRUNCATE", pattern: new RegExp(String.raw`(?:^|[\s"'\x60(])TRUNCATE\s+(?:TABLE\s+)?(?:ONLY\s+)?${NAMES}(?:\s+(?:RESTART|CONTINUE)\s+IDENTITY)?(?:\s+(?:CASCADE|RESTRICT))?${TAIL}`, "i") },
  { what: "ALTER", pattern: new RegExp(String.raw`(?:^|[\s"'\x60(])ALTER\s+(TABLE|DATABASE|SCHEMA|USER|ROLE)\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?${NAME}\s+(?:ADD|DROP|RENAME|ALTER|MODIFY|SET|OWNER|RESET|WITH|PASSWORD|CHANGE|ENGINE|CONVERT)\b`, "i") },
];
/** English determiners: "delete from my list", "update the set" are prose, not a table. */
const NOT_A_TABLE = String.raw`(?!(?:my|the|your|our|their|his|her|its|this|that|these|those|all|a|an|every|each)\b)`;
const DELETE = new RegExp(String.raw`(?:^|[\s"'\x60(])DELETE\s+FROM\s+${NOT_A_TABLE}${NAME}(?:\s+(?:AS\s+)?[\w$]+)?(?:\s+(?:WHERE|RETURNING|USING|LIMIT|ORDER)\b[\s\S]*|${TAIL})`, "i");
const UPDATE = new RegExp(String.raw`(?:^|[\s"'\x60(])UPDATE\s+(?:ONLY\s+)?${NOT_A_TABLE}${NAME}(?:\s+(?:AS\s+)?[\w$]+)?\s+SET\s+[\w$."\x60\[\]]+\s*=`, "i");

/** A SQL client's command line or a driver call, whose single-quoted argument is a statement, not a literal. */
const CLIENT = /\b(?:psql|mysql|mariadb|sqlite3|duckdb|sqlcmd|clickhouse-client|cqlsh)\b/i;
const EMBEDDED = /(?:\b(?:execute|executescript|executemany|exec|query|run|raw|sql|prepare)\s*\(|(?:^|\s)(?:-c|-e|--command[= ]|--execute[= ]))\s*'((?:[^']|'')*)'/g;

/** Destructive statements in `text` (empty when there are none or it is not SQL). */
export function destructiveSql(text: string): SqlHit[] {
  if (!/\b(?:drop|truncate|alter|delete|update)\b/i.test(text)) return [];
  const hits = statementsHits(stripSql(text));
  // `sqlite3 app.db 'DELETE FROM t'`, `execute('DROP TABLE t')`: the quotes are the host language's, and what is inside runs.
  for (const inner of embeddedStatements(text)) hits.push(...statementsHits(stripSql(inner)));
  return hits;
}

function embeddedStatements(text: string): string[] {
  const found: string[] = [];
  EMBEDDED.lastIndex = 0;
  for (let m = EMBEDDED.exec(text); m !== null; m = EMBEDDED.exec(text)) found.push(m[1]!.replace(/''/g, "'"));
  if (CLIENT.test(text)) for (const m of text.matchAll(/(?:^|\s)'((?:[^']|'')*)'/g)) if (!found.includes(m[1]!)) found.push(m[1]!.replace(/''/g, "'"));
  return found;
}

function statementsHits(stripped: string): SqlHit[] {
  const hits: SqlHit[] = [];
  for (const raw of stripped.split(";")) {
    const statement = raw.trim();
    if (statement.length === 0) continue;
    for (const { what, pattern } of RULES) {
      const m = pattern.exec(statement);
      if (m !== null) hits.push({ what: `${what} ${m[1]?.toUpperCase() ?? "TABLE"}`, statement });
    }
    const del = DELETE.exec(statement);
    if (del !== null && !hasOuterWhere(statement.slice(del.index))) hits.push({ what: "DELETE without WHERE", statement });
    const upd = UPDATE.exec(statement);
    if (upd !== null && !hasOuterWhere(statement.slice(upd.index))) hits.push({ what: "UPDATE without WHERE", statement });
  }
  return hits;
}

/** Whether a `WHERE` appears outside parentheses (a subquery's `WHERE` does not limit the outer statement). */
function hasOuterWhere(statement: string): boolean {
  let depth = 0;
  let outer = "";
  for (const ch of statement) {
    if (ch === "(") depth++;
    else if (ch === ")") depth = Math.max(0, depth - 1);
    else if (depth === 0) outer += ch;
  }
  return /\bWHERE\b/i.test(outer);
}

/**
 * The text with `--` line comments and block comments removed, and single-quoted literals
 * emptied (`''` escapes kept inside). One pass, linear. Double quotes are identifiers in SQL, and
 * the quotes of a host language around a statement (`psql -c "DROP TABLE t"`), so they stay.
 */
export function stripSql(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    const next = text[i + 1];
    if (ch === "-" && next === "-") {
      const end = text.indexOf("\n", i);
      i = end < 0 ? text.length : end;
    } else if (ch === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end < 0 ? text.length : end + 2;
      out += " ";
    } else if (ch === "'") {
      let j = i + 1;
      while (j < text.length && !(text[j] === "'" && text[j + 1] !== "'")) j += text[j] === "'" ? 2 : 1;
      out += "''";
      i = j + 1;
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}
