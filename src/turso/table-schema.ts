import type { Client, InStatement } from '@libsql/client';
import type { SqliteDb } from '../bots/bot-database-file.js';
import { createMetaTableSql, TARGET_META_TABLE } from './target.js';
import { prepareCached } from '../bots/sqlite-cache.js';
import { quoteIdent } from '../sql-identifier.js';

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
  const master = prepareCached<[], MasterRow>(
    db,
    "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    'objects',
  ).all();
  const tables: TableSchema[] = [];
  for (const row of master) {
    if (row.type !== 'table' || row.sql === null) continue;
    if (/^CREATE\s+VIRTUAL\s/i.test(row.sql)) continue;
    const info = prepareCached<[], ColumnInfo>(db, `PRAGMA table_info(${quoteIdent(row.name)})`, 'objects').all();
    const keyed = info.filter((c) => Number(c.pk) > 0).sort((a, b) => Number(a.pk) - Number(b.pk));
    const parents = prepareCached<[], { table: string }>(
      db,
      `PRAGMA foreign_key_list(${quoteIdent(row.name)})`,
      'objects',
    )
      .all()
      .map((fk) => fk.table);
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

interface TargetSchemaChanges {
  /** Tables that held rows before this push could have written any (compared on a full compare). */
  existing: Set<string>;
  created: string[];
  /** "table.column" added by ALTER TABLE. */
  addedColumns: string[];
}

/** CREATE INDEX -> CREATE INDEX IF NOT EXISTS, so replaying it is harmless. */
function idempotentIndex(sql: string): string {
  return /^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+IF\s+NOT\s+EXISTS\s/i.test(sql)
    ? sql
    : sql.replace(/^\s*CREATE\s+(UNIQUE\s+)?INDEX\s/i, (m) => `${m}IF NOT EXISTS `);
}

/** CREATE TABLE -> CREATE TABLE IF NOT EXISTS, for a replay after a crash between DDL and push. */
function idempotentTable(sql: string): string {
  return /^\s*CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s/i.test(sql)
    ? sql
    : sql.replace(/^\s*CREATE\s+TABLE\s/i, (m) => `${m}IF NOT EXISTS `);
}

/**
 * Makes the target able to take the source's rows: missing tables are created with the source's
 * own CREATE TABLE (and its indexes), and columns a FreqTrade upgrade added are added with
 * ALTER TABLE ADD COLUMN (without NOT NULL: the target's older rows have no value for them).
 */
export async function ensureTargetSchema(
  client: Client,
  tables: readonly TableSchema[],
  { write }: { write: boolean },
): Promise<TargetSchemaChanges> {
  const [master, ...infos] = await client.batch(
    [
      "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'index')",
      ...tables.map((t) => ({ sql: 'SELECT name FROM pragma_table_info(?)', args: [t.name] })),
    ],
    'read',
  );
  const present = new Set(master!.rows.filter((row) => row[1] === 'table').map((row) => String(row[0]).toLowerCase()));
  const indexes = new Set(master!.rows.filter((row) => row[1] === 'index').map((row) => String(row[0]).toLowerCase()));
  const statements: InStatement[] = [];
  // The push generation's home (push-state.ts); "paths" may have created it with the target.
  if (!present.has(TARGET_META_TABLE.toLowerCase())) statements.push(createMetaTableSql);
  const changes: TargetSchemaChanges = { existing: new Set(), created: [], addedColumns: [] };
  tables.forEach((table, index) => {
    if (!present.has(table.name.toLowerCase())) {
      statements.push(idempotentTable(table.createSql));
      changes.created.push(table.name);
    } else {
      changes.existing.add(table.name);
      const targetColumns = new Set(infos[index]!.rows.map((row) => String(row[0]).toLowerCase()));
      table.columns.forEach((column, i) => {
        if (targetColumns.has(column.toLowerCase())) return;
        statements.push(
          `ALTER TABLE ${quoteIdent(table.name)} ADD COLUMN ${quoteIdent(column)} ${table.columnTypes[i] ?? ''}`.trimEnd(),
        );
        changes.addedColumns.push(`${table.name}.${column}`);
      });
    }
    // Only the indexes the target lacks: a push that changes nothing writes nothing.
    for (const sql of table.indexSql) {
      const name = /INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?("(?:[^"]|"")+"|\S+)/i.exec(sql)?.[1]?.replace(/^"|"$/g, '');
      if (name === undefined || !indexes.has(name.replaceAll('""', '"').toLowerCase()))
        statements.push(idempotentIndex(sql));
    }
  });
  if (write && statements.length > 0) await client.batch(statements, 'write');
  return changes;
}
