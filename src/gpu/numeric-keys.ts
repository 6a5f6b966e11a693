/**
 * A map keyed by short lists of numbers (a uniform's words, a pass's sizes and flags), hashed as
 * they are instead of being joined into a string: looking one up allocates nothing. Past
 * `capacity` entries the oldest is forgotten.
 */
interface Entry<V> {
  hash: number;
  key: readonly number[];
  value: V;
}

const float = new Float64Array(1);
const words = new Uint32Array(float.buffer);

function mix(hash: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  hash ^= k;
  hash = (hash << 13) | (hash >>> 19);
  return (Math.imul(hash, 5) + 0xe6546b64) | 0;
}

/** MurmurHash3's mixing over the two 32-bit halves of each value's float64 bits. */
export function hashNumbers(key: ArrayLike<number>): number {
  let hash = key.length;
  for (let i = 0; i < key.length; i++) {
    float[0] = key[i];
    hash = mix(mix(hash, words[0]), words[1]);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}

function sameKey(a: readonly number[], b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class NumericKeyMap<V> {
  private readonly buckets = new Map<number, Entry<V>[]>();
  /** Every entry, oldest first (a Set keeps insertion order). */
  private readonly entries = new Set<Entry<V>>();

  constructor(private readonly capacity = Infinity) {}

  get(key: ArrayLike<number>): V | undefined {
    const bucket = this.buckets.get(hashNumbers(key));
    if (!bucket) return undefined;
    for (const entry of bucket) if (sameKey(entry.key, key)) return entry.value;
    return undefined;
  }

  set(key: ArrayLike<number>, value: V): void {
    this.delete(key);
    const entry = { hash: hashNumbers(key), key: Array.from(key), value };
    const bucket = this.buckets.get(entry.hash);
    if (bucket) bucket.push(entry);
    else this.buckets.set(entry.hash, [entry]);
    this.entries.add(entry);
    if (this.entries.size > this.capacity) {
      this.remove(this.entries.values().next().value as Entry<V>);
    }
  }

  /** Removes the entry of `key`, if any. */
  delete(key: ArrayLike<number>): void {
    const bucket = this.buckets.get(hashNumbers(key));
    const entry = bucket?.find((e) => sameKey(e.key, key));
    if (entry) this.remove(entry);
  }

  get size(): number {
    return this.entries.size;
  }

  values(): IterableIterator<V> {
    return Array.from(this.entries, (entry) => entry.value)[Symbol.iterator]();
  }

  clear(): void {
    this.buckets.clear();
    this.entries.clear();
  }

  private remove(entry: Entry<V>): void {
    this.entries.delete(entry);
    const bucket = this.buckets.get(entry.hash)!;
    bucket.splice(bucket.indexOf(entry), 1);
    if (bucket.length === 0) this.buckets.delete(entry.hash);
  }
}
