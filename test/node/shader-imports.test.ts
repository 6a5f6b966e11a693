import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { directive, importsOf, linkOrder, shaders, wgslFiles, TENSOR_STORAGE, WORKGROUP_SUM, type ShaderSource, type Variant } from '../../src/gpu/shader-sources';
import { readWgsl, type FileFacts } from '../support/wgsl-declarations';


/** Every module of a kernel: its float16 variant and the subgroups variants of both. */
const variantsOf = (s: ShaderSource): ShaderSource[] => [s, ...(s.subgroups ? [s.subgroups] : []), ...(s.float16 ? variantsOf(s.float16) : [])];

/** The kernels as they are linked: module name, root file, variant (read back from the name). */
const modules = Object.values(shaders).flatMap(variantsOf).map((s) => {
  const variant: Variant = { subgroups: s.name.endsWith('+subgroups'), dtype: s.name.includes('+f16') ? 'float16' : 'float32' };
  return { name: s.name, root: s.name.replace(/(\+f16)?(\+subgroups)?$/, ''), variant, code: s.code };
});
const f32: Variant = { subgroups: false, dtype: 'float32' };
const sub: Variant = { subgroups: true, dtype: 'float32' };

/** Problems of one linked module (the checks the linker's header in shader-sources.ts promises). */
function problemsOf(root: string, variant: Variant, registry: Readonly<Record<string, string>> = wgslFiles): string[] {
  const facts: Record<string, FileFacts> = Object.fromEntries(Object.entries(registry).map(([name, code]) => [name, readWgsl(code)]));
  // Every module-scope name of any file: the names a file may only use through an import.
  const everywhere = new Set(Object.values(facts).flatMap((f) => [...f.declares]));
  const problems: string[] = [];
  const files = linkOrder(root, variant, registry);
  const owner = new Map<string, string>();
  for (const file of files) {
    for (const name of facts[file].declares) {
      if (owner.has(name)) problems.push(`${name} is declared by ${owner.get(name)}.wgsl and ${file}.wgsl`);
      else owner.set(name, file);
    }
  }
  for (const file of files) {
    const imports = importsOf(file, variant, registry);
    const expects = directive(registry[file], 'expects');
    const provided = new Set(imports.flatMap((i) => [...facts[i].declares]));
    const expected = new Set(expects.map((e) => e.split('.')[0]));
    for (const name of facts[file].uses) {
      if (everywhere.has(name) && !provided.has(name) && !expected.has(name)) problems.push(`${file}.wgsl uses ${name} without importing or expecting it`);
    }
    for (const i of imports) {
      if (![...facts[i].declares].some((name) => facts[file].uses.has(name))) problems.push(`${file}.wgsl imports ${i}.wgsl and uses none of its declarations`);
    }
    for (const e of expects) {
      const [name, field] = e.split('.');
      if (!owner.has(name)) {
        problems.push(`${file}.wgsl expects ${e}, which the module ${root} does not declare`);
        continue;
      }
      if (field === undefined) continue;
      const type = facts[owner.get(name)!].varTypes.get(name);
      const fields = type ? files.map((f) => facts[f].structFields.get(type)).find(Boolean) : undefined;
      if (!fields?.has(field)) problems.push(`${file}.wgsl expects ${e}, but ${name}'s type ${type ?? '?'} has no field ${field} in ${root}`);
    }
  }
  return problems;
}

describe('WGSL modules: explicit imports, checked (shader-sources.ts)', () => {
  it('every library file is registered, and only those (copy.wgsl belongs to the benchmark)', () => {
    const onDisk = readdirSync(new URL('../../shaders', import.meta.url)).filter((f) => f.endsWith('.wgsl') && f !== 'copy.wgsl').map((f) => f.replace(/\.wgsl$/, ''));
    expect(Object.keys(wgslFiles).sort()).toEqual(onDisk.sort());
  });

  it.each(modules.map((m) => [m.name, m] as const))('%s: each declaration once, every use imported, every import used, every expectation met', (_, m) => {
    expect(problemsOf(m.root, m.variant)).toEqual([]);
  });

  it('puts dependencies first and each file once; the subgroups variant starts with its enable directive', () => {
    expect(linkOrder('stats-runs', f32)).toEqual(['grid', 'runs-walk', 'workgroup-reduce', 'finite', 'moments', 'tensor-f32', 'stats-runs']);
    expect(linkOrder('stats-runs', sub)).toContain('workgroup-reduce-subgroups');
    expect(shaders.statsRuns.subgroups!.code.startsWith('enable subgroups;')).toBe(true);
    expect(shaders.statsRuns.code).not.toContain('enable subgroups');
    // Kernels without workgroup sums have one variant.
    expect(shaders.statsRows.subgroups).toBeUndefined();
    expect(shaders.fusedSmallForward.subgroups?.name).toBe('fused-small-forward+subgroups');
  });

  it('the checks find what they are for', () => {
    const helper = '// #expects params.n WORKGROUP_SIZE\nfn twice(v: f32) -> f32 { return v * f32(params.n + WORKGROUP_SIZE); }\n';
    const other = 'fn unused() {}\n';
    const kernel = (imports: string, fields = 'n: u32') =>
      `${imports}\nstruct Params { ${fields} }\noverride WORKGROUP_SIZE: u32;\n@group(0) @binding(0) var<uniform> params: Params;\nfn main() { let a = twice(1.0); }\n`;
    const registry = (k: string, extra: Record<string, string> = {}) => ({ helper, other, k, ...extra });
    expect(problemsOf('k', f32, registry(kernel('// #import helper')))).toEqual([]);
    expect(problemsOf('k', f32, registry(kernel('')))).toEqual(['k.wgsl uses twice without importing or expecting it']);
    expect(problemsOf('k', f32, registry(kernel('// #import helper other')))).toEqual(['k.wgsl imports other.wgsl and uses none of its declarations']);
    expect(problemsOf('k', f32, registry(kernel('// #import helper', 'm: u32')))).toEqual(["helper.wgsl expects params.n, but params's type Params has no field n in k"]);
    expect(problemsOf('k', f32, registry(kernel('// #import helper other2'), { other2: 'fn twice(v: f32) -> f32 { return v; }\n' }))).toContain('twice is declared by helper.wgsl and other2.wgsl');
    expect(() => linkOrder('a', f32, { a: '// #import b\n', b: '// #import a\n' })).toThrow(/cycle/);
    expect(() => importsOf('a', f32, { a: '// #import nowhere\n' })).toThrow(/no shader file/);
    // The reader: uses inside array types of struct fields, no locals or parameters.
    // (Type names and built-ins count as uses too; only names some file declares matter.)
    expect(readWgsl('struct P { a: u32, b: array<f32, N>, c: f32 }').uses.has('N')).toBe(true);
    const f = readWgsl('fn f(@builtin(local_invocation_index) i: u32, v: f32) -> f32 { let w = v; return w + f32(i); }');
    expect([...f.declares]).toEqual(['f']);
    expect(['i', 'v', 'w'].filter((name) => f.uses.has(name))).toEqual([]);
    expect(WORKGROUP_SUM).toBe('workgroup-sum');
    expect(TENSOR_STORAGE).toBe('tensor-storage');
  });

  it('builds a float16 module of each kernel that binds tensors, starting with `enable f16;`, and none of the others', () => {
    const tensorKernels = Object.values(shaders).filter((s) => s.float16).map((s) => s.name);
    expect(tensorKernels).toEqual(['stats-rows', 'stats-runs', 'apply', 'backward-reduce-rows', 'backward-reduce-runs', 'backward-apply']);
    for (const s of Object.values(shaders)) {
      expect(s.code, s.name).not.toContain('enable f16');
      if (!s.float16) continue;
      expect(s.float16.name).toBe(`${s.name}+f16`);
      expect(s.float16.code.trimStart().startsWith('enable f16;')).toBe(true);
      expect(s.float16.code).toMatch(/alias tensor = f16;/);
      expect(s.code).toMatch(/alias tensor = f32;/);
      expect(Boolean(s.float16.subgroups)).toBe(Boolean(s.subgroups));
      if (s.float16.subgroups) {
        expect(s.float16.subgroups.name).toBe(`${s.name}+f16+subgroups`);
        expect(s.float16.subgroups.code).toMatch(/^enable (f16|subgroups);\nenable (f16|subgroups);/);
      }
      // Apart from the storage file, the float16 module is the float32 one: no arithmetic differs.
      const without = (code: string, file: string) => code.replace(/^enable f16;\n?/m, '').replace(wgslFiles[file].replace(/^enable [^;]+;\s*$/m, ''), '');
      expect(without(s.float16.code, 'tensor-f16')).toBe(without(s.code, 'tensor-f32'));
    }
  });
});
