import { quoteIdent } from '../sql-identifier.js';
import { COPY_NULL, type RowEncoder } from './source-lines.js';

/**
 * A source table's rows as the merge's statements read them: a temporary table the rows were
 * copied into, or (a change window of at most SYNC_BATCH_SIZE rows) the rows themselves as one
 * JSON parameter of each statement, which spares creating, filling and dropping a table for a
 * few hundred rows. Both are read through the same columns and types, so a row compares and
 * merges the same either way.
 */
export interface StagedRows {
  /** The relation to select from, given the number of the statement's parameter it may take. */
  from(param: number): string;
  /** That parameter, if any (placed at `param`). */
  params: readonly unknown[];
  /** How many rows, when known without asking PostgreSQL (rows given as a parameter). */
  rows?: number;
}

/** Rows copied into a temporary table. */
export function stagedTable(name: string): StagedRows {
  return { from: () => quoteIdent(name), params: [] };
}

/** Rows given as COPY text (the encoder's lines), sent as a JSON array of their fields. */
export function stagedJson(encoder: RowEncoder, copyText: string): StagedRows {
  const columns = encoder.columns.map(([name, type], i) => `(r->>${i})::${type} AS ${quoteIdent(name)}`);
  const fields = copyFields(copyText);
  return {
    from: (param) => `(SELECT ${columns.join(', ')} FROM jsonb_array_elements($${param}::jsonb) AS e(r))`,
    params: [JSON.stringify(fields)],
    rows: fields.length,
  };
}

const UNESCAPED: Record<string, string> = { '\\': '\\', t: '\t', n: '\n', r: '\r' };

/** COPY text lines back into their fields: what PostgreSQL's COPY would read (\N: NULL). */
function copyFields(text: string): Array<Array<string | null>> {
  const rows: Array<Array<string | null>> = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    rows.push(
      line
        .split('\t')
        .map((field) =>
          field === COPY_NULL
            ? null
            : field.includes('\\')
              ? field.replace(/\\(.)/g, (_, c: string) => UNESCAPED[c] ?? c)
              : field,
        ),
    );
  }
  return rows;
}
