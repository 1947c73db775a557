import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Objects per constructor (count, self bytes) in a .heapsnapshot file. */
export function heapCounts(file: string): Map<string, { count: number; bytes: number }> {
  const data = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = data.snapshot.meta.node_fields;
  const types = data.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const counts = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < data.nodes.length; i += width) {
    const type = types[data.nodes[i + typeAt]!]!;
    const name = type === 'object' || type === 'closure' ? data.strings[data.nodes[i + nameAt]!]! : `(${type})`;
    const entry = counts.get(name) ?? { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += data.nodes[i + sizeAt]!;
    counts.set(name, entry);
  }
  return counts;
}

/** The constructors that grew most from one snapshot to the next, by bytes. */
export function heapGrowth(before: string, after: string, top = 12): string[] {
  const a = heapCounts(before);
  const b = heapCounts(after);
  return [...b]
    .map(([name, { count, bytes }]) => ({
      name,
      count: count - (a.get(name)?.count ?? 0),
      bytes: bytes - (a.get(name)?.bytes ?? 0),
    }))
    .sort((x, y) => y.bytes - x.bytes)
    .slice(0, top)
    .map((g) => `${g.name}: ${g.count >= 0 ? '+' : ''}${g.count} objects, ${(g.bytes / 1024).toFixed(0)} KiB`);
}
