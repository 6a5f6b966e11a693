import type { ShaderSource } from './shader-sources';

/**
 * Reads the layout of a shader's `struct Params` from its WGSL text, so the uniform layout is
 * written once (in the shader) and the host packs values by field name. Only 4-byte scalar fields
 * (u32, i32, f32) are allowed, which makes the offsets simply 4 · index.
 */
export interface ParamsLayout {
  fields: { name: string; type: 'u32' | 'i32' | 'f32' }[];
  byteLength: number;
}

const layoutCache = new Map<string, ParamsLayout>();

export function paramsLayout(shader: ShaderSource): ParamsLayout {
  const cached = layoutCache.get(shader.name);
  if (cached) return cached;
  const body = /struct\s+Params\s*\{([^}]*)\}/.exec(shader.code)?.[1];
  if (body === undefined) throw new Error(`${shader.name}.wgsl declares no struct Params`);
  const fields = body
    .split('\n')
    .map((line) => line.replace(/\/\/.*$/, '').trim())
    .filter((line) => line.length > 0)
    .map((line) => {
      const match = /^(\w+)\s*:\s*(u32|i32|f32)\s*,?$/.exec(line);
      if (!match) throw new Error(`${shader.name}.wgsl: unsupported Params field "${line}"`);
      return { name: match[1], type: match[2] as 'u32' | 'i32' | 'f32' };
    });
  // Uniform structs are sized in multiples of 16 bytes.
  const layout = { fields, byteLength: Math.max(16, Math.ceil((fields.length * 4) / 16) * 16) };
  layoutCache.set(shader.name, layout);
  return layout;
}

/** Packs named values into the shader's uniform layout; every field must be given, no extras. */
export function packParams(shader: ShaderSource, values: Record<string, number>): ArrayBuffer {
  const layout = paramsLayout(shader);
  const bytes = new ArrayBuffer(layout.byteLength);
  const view = new DataView(bytes);
  const given = new Set(Object.keys(values));
  layout.fields.forEach(({ name, type }, index) => {
    const value = values[name];
    if (value === undefined) throw new Error(`${shader.name}: Params.${name} not given`);
    given.delete(name);
    if (type === 'f32') view.setFloat32(index * 4, value, true);
    else if (type === 'i32') view.setInt32(index * 4, value, true);
    else {
      if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
        throw new Error(`${shader.name}: Params.${name} = ${value} is not a u32`);
      }
      view.setUint32(index * 4, value, true);
    }
  });
  if (given.size > 0) throw new Error(`${shader.name}: unknown Params fields ${[...given].join(', ')}`);
  return bytes;
}
