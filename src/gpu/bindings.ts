import type { ShaderSource } from './shader-sources';

/**
 * Reads the `@group(0) @binding(n) var<…> name` declarations of a shader, so host code binds
 * buffers by the variable's name and the binding numbers are written once, in the WGSL. A name
 * declared at two bindings (apply.wgsl's scalar and vec4 views) keeps the first.
 */
const bindingCache = new Map<string, ReadonlyMap<string, number>>();

export function shaderBindings(shader: ShaderSource): ReadonlyMap<string, number> {
  const cached = bindingCache.get(shader.name);
  if (cached) return cached;
  const bindings = new Map<string, number>();
  const declaration = /@group\(\s*0\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var(?:<[^>]*>)?\s+(\w+)/g;
  for (const match of shader.code.replace(/\/\/.*$/gm, '').matchAll(declaration)) {
    if (!bindings.has(match[2])) bindings.set(match[2], Number(match[1]));
  }
  bindingCache.set(shader.name, bindings);
  return bindings;
}

/** The binding number of `name`, or an Error naming the shader (a host/shader mismatch is a bug). */
export function bindingOf(shader: ShaderSource, name: string): number {
  const binding = shaderBindings(shader).get(name);
  if (binding === undefined) throw new Error(`${shader.name}.wgsl declares no binding named ${name}`);
  return binding;
}
