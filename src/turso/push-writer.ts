import type { Client, InStatement, InValue } from '@libsql/client';
import { previousCursor, sourceCursor, type PlanSides, type Previous } from './push-plan.js';
import type { RecordOp } from './push-state.js';
import { mergeRows, type Change } from './row-readers.js';
import { decodeSortKey, valueBytes, type SqlValue } from './row-values.js';
import { keyColumns, type TableSchema } from './table-schema.js';
import { quoteIdent } from '../sql-identifier.js';

/** SQLite's (and Turso's) limit on bound parameters in one statement. */
const MAX_STATEMENT_PARAMS = 32_766;

interface OpenStatement {
  table: TableSchema;
  kind: 'upsert' | 'delete';
  args: InValue[];
  rows: number;
  maxRows: number;
}

function upsertSql(table: TableSchema, rows: number): string {
  const byRowid = table.primaryKey.length === 0;
  const columns = [...(byRowid ? ['rowid'] : []), ...table.columns.map(quoteIdent)];
  const tuple = `(${columns.map(() => '?').join(',')})`;
  const values = Array.from({ length: rows }, () => tuple).join(',');
  if (byRowid) return `INSERT OR REPLACE INTO ${quoteIdent(table.name)} (${columns.join(', ')}) VALUES ${values}`;
  // An upsert updates in place: unlike REPLACE it never deletes a parent row under its children.
  const keys = new Set(table.primaryKey);
  const updates = table.columns.filter((c) => !keys.has(c)).map((c) => `${quoteIdent(c)} = excluded.${quoteIdent(c)}`);
  const onConflict = `ON CONFLICT (${keyColumns(table).join(', ')}) DO ${updates.length > 0 ? `UPDATE SET ${updates.join(', ')}` : 'NOTHING'}`;
  return `INSERT INTO ${quoteIdent(table.name)} (${columns.join(', ')}) VALUES ${values} ${onConflict}`;
}

function deleteSql(table: TableSchema, rows: number): string {
  const keys = keyColumns(table);
  if (keys.length === 1)
    return `DELETE FROM ${quoteIdent(table.name)} WHERE ${keys[0]} IN (${Array.from({ length: rows }, () => '?').join(',')})`;
  const tuple = `(${keys.map(() => '?').join(',')})`;
  return `DELETE FROM ${quoteIdent(table.name)} WHERE (${keys.join(', ')}) IN (VALUES ${Array.from({ length: rows }, () => tuple).join(',')})`;
}

/**
 * Gathers row changes into multi-row statements (under the parameter limit) and statements into
 * `client.migrate(...)` requests (under a byte budget). A batch is one atomic transaction on the
 * server, run with foreign keys off; `onCommit` learns what it held only after it committed.
 */
export class BatchWriter {
  private statements: InStatement[] = [];
  private ops: RecordOp[] = [];
  private bytes = 0;
  private open: OpenStatement | undefined;

  constructor(
    private readonly client: Client,
    private readonly maxBytes: number,
    private readonly onCommit: (ops: RecordOp[], bytes: number) => Promise<void>,
    private readonly signal?: AbortSignal,
    /** Runs once, before the first batch is sent (the push marks its state pending there). */
    private readonly beforeFirstBatch?: () => Promise<void>,
  ) {}

  private sent = false;

  async upsert(
    table: TableSchema,
    keyValues: readonly SqlValue[],
    row: readonly SqlValue[],
    op: RecordOp,
  ): Promise<void> {
    const values = table.primaryKey.length === 0 ? [...keyValues, ...row] : [...row];
    await this.add(table, 'upsert', values, op);
  }

  async delete(table: TableSchema, keyValues: readonly SqlValue[], op: RecordOp): Promise<void> {
    await this.add(table, 'delete', [...keyValues], op);
  }

  private async add(table: TableSchema, kind: OpenStatement['kind'], values: SqlValue[], op: RecordOp): Promise<void> {
    if (this.open && (this.open.table !== table || this.open.kind !== kind || this.open.rows >= this.open.maxRows))
      this.closeStatement();
    this.open ??= {
      table,
      kind,
      args: [],
      rows: 0,
      maxRows: Math.max(1, Math.floor(MAX_STATEMENT_PARAMS / values.length)),
    };
    this.open.args.push(...values);
    this.open.rows += 1;
    this.ops.push(op);
    for (const value of values) this.bytes += valueBytes(value);
    if (this.bytes >= this.maxBytes) await this.flush();
  }

  private closeStatement(): void {
    if (!this.open) return;
    const { table, kind, rows, args } = this.open;
    const sql = kind === 'upsert' ? upsertSql(table, rows) : deleteSql(table, rows);
    this.statements.push({ sql, args });
    this.bytes += sql.length;
    this.open = undefined;
  }

  /** Sends what is gathered as one atomic batch, with `last` (the push generation) at its end. */
  async flush(last: readonly InStatement[] = []): Promise<void> {
    this.closeStatement();
    if (this.statements.length === 0 && last.length === 0) return;
    this.signal?.throwIfAborted();
    if (!this.sent) await this.beforeFirstBatch?.();
    this.sent = true;
    const statements = [...this.statements, ...last];
    const ops = this.ops;
    const bytes = this.bytes;
    this.statements = [];
    this.ops = [];
    this.bytes = 0;
    // With the target's foreign keys off, as FreqTrade leaves them in the source (a migrate batch
    // is one transaction too): the copy must hold what the source holds, even an order whose trade
    // was deleted by hand or a migration's backup table referring to a trade deleted since.
    await this.client.migrate(statements);
    await this.onCommit(ops, bytes);
  }
}

/**
 * Merges the table again (the source may have moved since the plan) and sends one kind of
 * change: rows the merge finds otherwise are left to the next push, which sees them again.
 * `kept`: the plan's own changes (a change window's, read in the same snapshot), sent as they are.
 */
export async function writeChanges(
  sides: PlanSides,
  table: TableSchema,
  previous: Previous,
  writer: BatchWriter,
  kind: 'delete' | 'upsert',
  kept?: readonly Change[],
): Promise<void> {
  const changes = kept ?? mergeRows(sourceCursor(sides, table, previous), previousCursor(sides, table, previous));
  for await (const change of changes) {
    if (kind === 'delete' && change.kind === 'delete')
      await writer.delete(table, decodeSortKey(change.key), { table: table.name, key: change.key, hash: undefined });
    else if (kind === 'upsert' && (change.kind === 'insert' || change.kind === 'update'))
      await writer.upsert(table, change.row.keyValues, change.row.values, {
        table: table.name,
        key: change.row.key,
        hash: change.row.hash,
      });
  }
}
