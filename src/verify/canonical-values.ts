import { canonicalDecimal } from './canonical-decimal.js';

/**
 * One spelling per instant: UTC at microseconds, as PostgreSQL keeps a timestamptz
 * (`2024-06-01T00:02:00.000000Z`). Takes what the mappers give (JavaScript's ISO text) and what
 * verify reads from PostgreSQL (`to_char(... 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`, already canonical).
 */
export function canonicalTimestamp(text: string): string {
  // JavaScript writes years past 9999 as +010000, PostgreSQL as 10000.
  const match = /^\+?0*(\d{4,})-(\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z$/.exec(text);
  if (match) return `${match[1]}-${match[2]}.${(match[3] ?? '').padEnd(6, '0')}Z`;
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return text;
  const iso = date.toISOString();
  return iso === text ? text : canonicalTimestamp(iso); // years before 1 stay as JavaScript writes them
}

/** The PostgreSQL expression whose text canonicalTimestamp leaves as it is. */
export const pgTimestampText = (column: string): string =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * One spelling per JSON value, exact: object keys sorted (a repeated key keeps its last value,
 * as JSONB does), numbers as canonical decimals ("1.50", "15e-1" -> "1.5", digits beyond a
 * double's kept), strings re-escaped one way, no whitespace. JSON.parse is not used: it rounds
 * numbers to doubles, which would hide a changed 2^53 + 1.
 */
export function canonicalJson(text: string): string {
  const reader = new JsonReader(text);
  const value = reader.value();
  reader.end();
  return value;
}

/** A JSON number literal where the reader stands (sticky). */
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

class JsonReader {
  private at = 0;

  constructor(private readonly text: string) {}

  value(): string {
    this.space();
    const c = this.text[this.at];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return JSON.stringify(this.string());
    for (const literal of ['true', 'false', 'null']) {
      if (this.text.startsWith(literal, this.at)) {
        this.at += literal.length;
        return literal;
      }
    }
    NUMBER.lastIndex = this.at;
    const number = NUMBER.exec(this.text);
    if (!number) throw this.error('a value');
    this.at += number[0].length;
    return canonicalDecimal(number[0]);
  }

  end(): void {
    this.space();
    if (this.at !== this.text.length) throw this.error('the end');
  }

  private object(): string {
    this.at += 1;
    const members = new Map<string, string>();
    this.space();
    if (this.text[this.at] === '}') {
      this.at += 1;
      return '{}';
    }
    for (;;) {
      this.space();
      if (this.text[this.at] !== '"') throw this.error('a key');
      const key = this.string();
      this.expect(':');
      members.delete(key);
      members.set(key, this.value());
      this.space();
      if (this.text[this.at] === '}') break;
      this.expect(',');
    }
    this.at += 1;
    const keys = [...members.keys()].sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${members.get(key)!}`).join(',')}}`;
  }

  private array(): string {
    this.at += 1;
    const items: string[] = [];
    this.space();
    if (this.text[this.at] === ']') {
      this.at += 1;
      return '[]';
    }
    for (;;) {
      items.push(this.value());
      this.space();
      if (this.text[this.at] === ']') break;
      this.expect(',');
    }
    this.at += 1;
    return `[${items.join(',')}]`;
  }

  /** A string literal at `at`, decoded (JSON.parse of the literal alone: its escapes, exactly). */
  private string(): string {
    const start = this.at;
    this.at += 1;
    let escaped = false;
    for (;;) {
      const c = this.text.charCodeAt(this.at);
      if (Number.isNaN(c)) throw this.error('the end of a string');
      if (c === 0x22) break; // '"'
      if (c === 0x5c) {
        escaped = true; // '\\': skip the escaped character
        this.at += 1;
      }
      this.at += 1;
    }
    this.at += 1;
    // Without escapes the text between the quotes is the string; otherwise JSON.parse decodes them exactly.
    return escaped ? (JSON.parse(this.text.slice(start, this.at)) as string) : this.text.slice(start + 1, this.at - 1);
  }

  private expect(char: string): void {
    this.space();
    if (this.text[this.at] !== char) throw this.error(`"${char}"`);
    this.at += 1;
  }

  private space(): void {
    for (;;) {
      const c = this.text.charCodeAt(this.at);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.at += 1;
    }
  }

  private error(wanted: string): Error {
    return new Error(`JSON: expected ${wanted} at character ${this.at}`);
  }
}
