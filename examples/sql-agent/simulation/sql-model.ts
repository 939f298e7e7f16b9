/**
 * The simulated model's grasp of SQL: it reads a question in one of ten shapes (any genre, artist,
 * playlist, country, person or N) and writes the query for it, with the lapses it is told to make.
 * It knows the shapes, not the answers: a question it cannot read gets a query that answers
 * nothing, as a confused model's would.
 */
import type { RuleId } from "./rules.js";

export type QuestionSpec =
  | { shape: "customers-by-genre"; genre: string }
  | { shape: "top-artists-by-genre"; n: number; genre: string }
  | { shape: "revenue-by-genre"; genre: string }
  | { shape: "rep-customers"; first: string; last: string }
  | { shape: "longest-tracks"; n: number; artist: string }
  | { shape: "genres-on-playlist"; playlist: string }
  | { shape: "countries-more-than"; k: number }
  | { shape: "average-invoice"; country: string }
  | { shape: "reports-to"; first: string; last: string }
  | { shape: "top-customers"; n: number; country: string };

const WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];

function count(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const word = WORDS.indexOf(text.toLowerCase());
  return word >= 0 ? word : Number(text);
}

const READERS: Array<[RegExp, (m: RegExpExecArray) => QuestionSpec]> = [
  [/how many (?:different |distinct |unique )?customers have bought (.+?) tracks/i, (m) => ({ shape: "customers-by-genre", genre: m[1]! })],
  [/which (\w+) artists have the most (.+?) tracks/i, (m) => ({ shape: "top-artists-by-genre", n: count(m[1], 1), genre: m[2]! })],
  [/total revenue from (.+?) track sales/i, (m) => ({ shape: "revenue-by-genre", genre: m[1]! })],
  [/how many customers does the support rep (\S+) (\S+) look after/i, (m) => ({ shape: "rep-customers", first: m[1]!, last: m[2]! })],
  [/the (\w+) longest tracks by (.+?)(?:,|\.|\?|$)/i, (m) => ({ shape: "longest-tracks", n: count(m[1], 1), artist: m[2]! })],
  [/how many (?:different |distinct |unique )?genres are on the playlist (.+?)\?/i, (m) => ({ shape: "genres-on-playlist", playlist: m[1]! })],
  [/which countries have more than (\w+) customers?/i, (m) => ({ shape: "countries-more-than", k: count(m[1], 0) })],
  [/average invoice total for customers in (?:the )?(.+?)\?/i, (m) => ({ shape: "average-invoice", country: m[1]! })],
  [/how many employees report to (\S+) (\S+?)\?/i, (m) => ({ shape: "reports-to", first: m[1]!, last: m[2]! })],
  [/which (?:(\w+) )?customers? in (?:the )?(.+?) spent the most/i, (m) => ({ shape: "top-customers", n: count(m[1], 1), country: m[2]! })],
];

/** The question's shape and values, or undefined when the model cannot read it. */
export function readQuestion(question: string): QuestionSpec | undefined {
  for (const [pattern, build] of READERS) {
    const match = pattern.exec(question);
    if (match) return build(match);
  }
  return undefined;
}

export interface Habits {
  /** The rules the model lapses on in this query. */
  lapses: ReadonlySet<RuleId>;
  /** Names matched with LIKE '%…%' instead of =: a slip no guidance here prevents. */
  fuzzyNames: boolean;
  /** The question read another way (purchases for customers, file size for length, ≥ for "more than" …): no guidance here prevents it either. */
  misread?: boolean;
}

/** The SQL the model writes for a question it read, with its lapses. */
export function writeSql(spec: QuestionSpec, habits: Habits): string {
  const { lapses } = habits;
  const str = (v: string) => (lapses.has("quote") ? `"${v}"` : `'${v.replaceAll("'", "''")}'`);
  const is = (column: string, value: string) => (habits.fuzzyNames ? `${column} LIKE ${str(`%${value}%`)}` : `${column} = ${str(value)}`);
  const limit = (n: number) => (lapses.has("limit") ? "" : ` LIMIT ${n}`);
  const distinct = lapses.has("distinct") ? "" : "DISTINCT ";
  const byGenre = "JOIN Track t ON t.TrackId = il.TrackId JOIN Genre g ON g.GenreId = t.GenreId";
  const misread = habits.misread === true;
  switch (spec.shape) {
    case "customers-by-genre":
      return `SELECT COUNT(${distinct}${misread ? "i.InvoiceId" : "i.CustomerId"}) FROM Invoice i JOIN InvoiceLine il ON il.InvoiceId = i.InvoiceId ${byGenre} WHERE ${is("g.Name", spec.genre)}`;
    case "top-artists-by-genre":
      return `SELECT ar.Name, COUNT(*) AS tracks FROM Artist ar JOIN Album al ON al.ArtistId = ar.ArtistId JOIN Track t ON t.AlbumId = al.AlbumId JOIN Genre g ON g.GenreId = t.GenreId WHERE ${is("g.Name", spec.genre)} GROUP BY ar.ArtistId ORDER BY tracks DESC${limit(spec.n)}`;
    case "revenue-by-genre":
      return lapses.has("grain")
        ? `SELECT SUM(i.Total) FROM Invoice i JOIN InvoiceLine il ON il.InvoiceId = i.InvoiceId ${byGenre} WHERE ${is("g.Name", spec.genre)}`
        : `SELECT SUM(il.UnitPrice * il.Quantity) FROM InvoiceLine il ${byGenre} WHERE ${is("g.Name", spec.genre)}`;
    case "rep-customers":
      return `SELECT COUNT(*) FROM Customer c ${misread ? "JOIN Invoice i ON i.CustomerId = c.CustomerId " : ""}JOIN Employee e ON ${lapses.has("keys") ? "c.CustomerId = e.EmployeeId" : "c.SupportRepId = e.EmployeeId"} WHERE ${is("e.FirstName", spec.first)} AND ${is("e.LastName", spec.last)}`;
    case "longest-tracks":
      return `SELECT t.Name, t.Milliseconds FROM Track t JOIN Album al ON al.AlbumId = t.AlbumId JOIN Artist ar ON ar.ArtistId = al.ArtistId WHERE ${is("ar.Name", spec.artist)} ORDER BY ${misread ? "t.Bytes" : "t.Milliseconds"} DESC${limit(spec.n)}`;
    case "genres-on-playlist":
      return `SELECT COUNT(${distinct}t.GenreId) FROM Playlist p JOIN PlaylistTrack pt ON pt.PlaylistId = p.PlaylistId JOIN Track t ON t.TrackId = pt.TrackId WHERE ${is("p.Name", spec.playlist)}`;
    case "countries-more-than":
      return lapses.has("having")
        ? `SELECT Country, COUNT(*) AS customers FROM Customer WHERE COUNT(*) > ${spec.k} GROUP BY Country`
        : `SELECT Country, COUNT(*) AS customers FROM Customer GROUP BY Country HAVING COUNT(*) ${misread ? ">=" : ">"} ${spec.k}`;
    case "average-invoice":
      return `SELECT AVG(${misread ? "il.UnitPrice * il.Quantity" : "i.Total"}) FROM Invoice i ${misread ? "JOIN InvoiceLine il ON il.InvoiceId = i.InvoiceId " : ""}JOIN Customer c ON c.CustomerId = i.CustomerId WHERE ${is("c.Country", spec.country)}`;
    case "reports-to":
      return `SELECT COUNT(*) FROM Employee e JOIN Employee m ON ${lapses.has("keys") ? "e.EmployeeId = m.EmployeeId" : "e.ReportsTo = m.EmployeeId"} WHERE ${is("m.FirstName", spec.first)} AND ${is("m.LastName", spec.last)}`;
    case "top-customers":
      return `SELECT c.FirstName, c.LastName, SUM(i.Total) AS spent FROM Customer c JOIN Invoice i ON i.CustomerId = c.CustomerId WHERE ${is("c.Country", spec.country)} GROUP BY c.CustomerId ORDER BY spent DESC${limit(spec.n)}`;
  }
}

/** The rules a query visibly follows: what a rewriter told to change nothing else keeps. */
export function rulesFollowed(sql: string): Set<RuleId> {
  const followed = new Set<RuleId>();
  if (/'[^']*'/.test(sql)) followed.add("quote");
  if (/\bDISTINCT\b/i.test(sql)) followed.add("distinct");
  if (/\bLIMIT\b/i.test(sql)) followed.add("limit");
  if (/UnitPrice \* il\.Quantity/.test(sql)) followed.add("grain");
  if (/\b(?:SupportRepId|ReportsTo)\b/.test(sql)) followed.add("keys");
  if (/\bHAVING\b/i.test(sql)) followed.add("having");
  return followed;
}
