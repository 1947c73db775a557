/** A name quoted as an SQL identifier: PostgreSQL and SQLite (libSQL) both double a `"` inside `"..."`. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
