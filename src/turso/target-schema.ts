import type { Client, InStatement } from '@libsql/client';
import { createMetaTableSql, TARGET_META_TABLE } from './push-state.js';
import { quoteIdent, type TableSchema } from './table-schema.js';

export interface TargetSchemaChanges {
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
