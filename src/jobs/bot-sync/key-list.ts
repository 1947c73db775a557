import { MAX_KEY } from './freqtrade-columns.js';

/**
 * A bot's row keys (PostgreSQL INTEGERs, so each fits 32 bits) in a growing Int32Array: 4 bytes a
 * key where a JavaScript array or Set of a million-trade bot's keys takes tens of megabytes and
 * keeps the heap large for the whole sync.
 */
export class KeyList {
  private keys = new Int32Array(1024);
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(key: number): void {
    if (!Number.isInteger(key) || key < -MAX_KEY || key > MAX_KEY)
      throw new RangeError(`key ${key} is not a PostgreSQL INTEGER`);
    if (this.size === this.keys.length) {
      const grown = new Int32Array(this.keys.length * 2);
      grown.set(this.keys);
      this.keys = grown;
    }
    this.keys[this.size++] = key;
  }

  /** The index-th key pushed (negative: from the end), as Array.prototype.at. */
  at(index: number): number | undefined {
    const i = index < 0 ? this.size + index : index;
    return i >= 0 && i < this.size ? this.keys[i] : undefined;
  }

  /** The keys pushed so far as a set to look keys up in (sorted once, then binary search). */
  toSet(): KeySet {
    return new KeySet(this.keys.slice(0, this.size).sort());
  }
}

export class KeySet {
  constructor(private readonly sorted: Int32Array) {}

  has(key: number): boolean {
    let low = 0;
    let high = this.sorted.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const value = this.sorted[middle]!;
      if (value === key) return true;
      if (value < key) low = middle + 1;
      else high = middle - 1;
    }
    return false;
  }
}
