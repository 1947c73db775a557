import type { SqliteDb } from '../bots/bot-database-file.js';

/** What a push needs to know about one table of a bot's database. */
export interface TableSchema {
  name: string;
  /** The source's CREATE TABLE statement, replayed in the target when the table is missing. */
  createSql: string;
  columns: string[];
  /** Declared types, for ALTER TABLE ADD COLUMN. */
  columnTypes: string[];
  /** Primary key columns in key order; empty when the table is keyed by its rowid. */
  primaryKey: string[];
  /** Tables this one references (PRAGMA foreign_key_list). */
  parents: string[];
  /** CREATE INDEX statements of the table (not the automatic ones). */
  indexSql: string[];
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The columns that identify a row: the primary key, or the rowid. */
export function keyColumns(table: TableSchema): string[] {
  return table.primaryKey.length > 0 ? table.primaryKey.map(quoteIdent) : ['rowid'];
}

interface MasterRow {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
}

interface ColumnInfo {
  name: string;
  type: string;
  pk: number | bigint;
}

/**
 * Every user table of the source (sqlite_* excluded), parents before children so that a target
 * that enforces foreign keys accepts the rows: trades before orders.
 */
export function readSourceTables(db: SqliteDb): TableSchema[] {
  const master = db
    .prepare(
      "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .all() as MasterRow[];
  const tables: TableSchema[] = [];
  for (const row of master) {
    if (row.type !== 'table' || row.sql === null) continue;
    if (/^CREATE\s+VIRTUAL\s/i.test(row.sql)) continue;
    const info = db.prepare(`PRAGMA table_info(${quoteIdent(row.name)})`).all() as ColumnInfo[];
    const keyed = info.filter((c) => Number(c.pk) > 0).sort((a, b) => Number(a.pk) - Number(b.pk));
    const parents = (
      db.prepare(`PRAGMA foreign_key_list(${quoteIdent(row.name)})`).all() as Array<{ table: string }>
    ).map((fk) => fk.table);
    tables.push({
      name: row.name,
      createSql: row.sql,
      columns: info.map((c) => c.name),
      columnTypes: info.map((c) => c.type),
      primaryKey: keyed.map((c) => c.name),
      parents: [...new Set(parents)].filter((parent) => parent !== row.name),
      indexSql: master
        .filter((i) => i.type === 'index' && i.tbl_name === row.name && i.sql !== null)
        .map((i) => i.sql!),
    });
  }
  return orderParentsFirst(tables);
}

/** Topological order by foreign keys, otherwise by name; a cycle keeps its name order. */
function orderParentsFirst(tables: TableSchema[]): TableSchema[] {
  const byName = new Map(tables.map((t) => [t.name.toLowerCase(), t]));
  const ordered: TableSchema[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (table: TableSchema) => {
    const key = table.name.toLowerCase();
    if (state.has(key)) return;
    state.set(key, 'visiting');
    for (const parent of table.parents) {
      const found = byName.get(parent.toLowerCase());
      if (found) visit(found);
    }
    state.set(key, 'done');
    ordered.push(table);
  };
  for (const table of [...tables].sort((a, b) => a.name.localeCompare(b.name))) visit(table);
  return ordered;
}
