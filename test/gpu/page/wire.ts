/**
 * JSON as it crosses between Node and the harness page, in both directions. Plain JSON (and
 * puppeteer's own transfer) turns NaN and ±Infinity into null, so a check like "no NaN in the output"
 * would pass on a broken kernel, and typed arrays into slow {"0": …} objects. Here numbers that JSON
 * cannot hold travel as { $number: 'NaN' }, and typed arrays as their bytes in base64, so they
 * arrive bit-exact and as the same typed array.
 */

const typedArrays = {
  Float32Array,
  Float64Array,
  Int8Array,
  Int16Array,
  Int32Array,
  Uint8Array,
  Uint8ClampedArray,
  Uint16Array,
  Uint32Array,
};
type TypedArrayName = keyof typeof typedArrays;

function isTypedArrayName(name: string): name is TypedArrayName {
  return Object.hasOwn(typedArrays, name);
}

// Native base64 where there is one (Buffer in Node, Uint8Array.prototype.toBase64 in recent
// browsers): the portable loops below are several times slower on the multi-megabyte arrays
// the large-dispatch tests send.
type Base64Native = {
  toBase64?: (this: Uint8Array) => string;
  fromBase64?: (text: string) => Uint8Array<ArrayBuffer>;
};
const nativeUint8 = Uint8Array as unknown as Base64Native & { prototype: Base64Native };
const nodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;

function toBase64(bytes: Uint8Array): string {
  if (nodeBuffer) return nodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  if (nativeUint8.prototype.toBase64) return nativeUint8.prototype.toBase64.call(bytes);
  let binary = '';
  // Chunked: spreading millions of arguments at once overflows the stack.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  if (nodeBuffer) return new Uint8Array(nodeBuffer.from(text, 'base64'));
  if (nativeUint8.fromBase64) return nativeUint8.fromBase64(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function encodeValue(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && (!Number.isFinite(value) || Object.is(value, -0))) {
    return { $number: Object.is(value, -0) ? '-0' : String(value) };
  }
  if (ArrayBuffer.isView(value) && isTypedArrayName(value.constructor.name)) {
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    return { $typed: value.constructor.name, base64: toBase64(bytes) };
  }
  return value;
}

function decodeValue(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const fields = value as Record<string, unknown>;
  const keys = Object.keys(fields).sort().join();
  if (keys === '$number' && typeof fields.$number === 'string') return Number(fields.$number);
  if (keys === '$typed,base64' && typeof fields.$typed === 'string' && typeof fields.base64 === 'string') {
    if (!isTypedArrayName(fields.$typed)) throw new Error(`unknown typed array ${fields.$typed}`);
    return new typedArrays[fields.$typed](fromBase64(fields.base64).buffer);
  }
  return value;
}

export function encodeWire(value: unknown): string {
  // undefined is not JSON; send null so the other side can always parse.
  return JSON.stringify(value, encodeValue) ?? 'null';
}

export function decodeWire(text: string): unknown {
  return JSON.parse(text, decodeValue);
}
