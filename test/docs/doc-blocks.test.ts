/**
 * Every TypeScript block of README.md and docs/*.md runs as pasted: all of them are type-checked
 * together against the library's sources (strict), then each one is run on its own in a fresh Node
 * process against the library as built for publishing, importing it by its package name.
 *
 * Blocks run as they would in a browser: `navigator.gpu` and WebGPU's globals (GPUBufferUsage, …)
 * come from Dawn (the `webgpu` package) on the machine's Vulkan driver, SwiftShader where there is no
 * GPU. A block that imports `webgpu` or `webgpu-batchnorm/node` is a Node program and gets no such
 * globals. A block must finish on its own (exit 0 within the time limit): a thrown error, a rejected
 * promise or a handle left open fails it. Without a WebGPU adapter the blocks that need one are
 * skipped with a loud warning, and under CI=true the run fails instead.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { swiftShaderEnv } from '../../src/node/swiftshader';
import { isCI } from '../setup/gpu-context';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** Under the project's node_modules/, so that the blocks resolve `webgpu` and TF.js from it. */
const work = `${root}node_modules/.cache/webgpu-batchnorm-docs/`;
const packageDir = `${work}node_modules/webgpu-batchnorm/`;
const blockTimeoutMs = 120_000;

interface Block {
  /** e.g. README.md:42 (the line of the opening fence). */
  where: string;
  source: string;
  /** Line of the block's first code line in its page, 1-based. */
  firstLine: number;
  page: string;
  name: string;
}

const fence = /^( *)```(ts|typescript|js|javascript)[^\n]*\n([\s\S]*?)^\1```[ \t]*$/gm;

function blocksOf(page: string): Block[] {
  const text = readFileSync(`${root}${page}`, 'utf8');
  const blocks: Block[] = [];
  for (const match of text.matchAll(fence)) {
    const indent = match[1].length;
    const fenceLine = text.slice(0, match.index).split('\n').length;
    const source = match[3].split('\n').map((line) => line.slice(Math.min(indent, line.length - line.trimStart().length))).join('\n');
    const name = `${page.replace(/[^A-Za-z0-9]+/g, '-')}-${fenceLine}`;
    blocks.push({ where: `${page}:${fenceLine}`, source, firstLine: fenceLine + 1, page, name });
  }
  return blocks;
}

const pages = ['README.md', ...readdirSync(`${root}docs`).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const blocks = pages.flatMap(blocksOf);

/** A Node program (no browser globals) when it brings its own WebGPU or uses the Node entry. */
const isNodeProgram = (block: Block) => /from\s+['"](webgpu|webgpu-batchnorm\/node)['"]/.test(block.source);

/** Blocks that cannot run without an adapter; the others fall back to the CPU path, or never leave it. */
const needsWebGpu = (block: Block) => /navigator\.gpu|'webgpu'|\.gpu!|GPUBuffer/.test(block.source);

// What a browser gives a page: navigator.gpu and WebGPU's globals, here from Dawn. Where Dawn cannot
// load at all, pages get no navigator.gpu, as in a browser without WebGPU (the probe reports it).
const browserGlobals = `try {
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true, writable: true });
} catch (error) {
  console.warn('no WebGPU from Dawn:', error.message);
}
`;

function runNode(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: work, env, timeout: blockTimeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      const killed = error && (error as { killed?: boolean }).killed ? `\n(killed after ${blockTimeoutMs} ms: still running)` : '';
      resolve({ code, output: `${stdout}${stderr}${killed}` });
    });
  });
}

/** Type-checks every block against the sources; returns one message per diagnostic, located in its page. */
function typeCheck(all: Block[]): string[] {
  const files = new Map<string, Block>();
  for (const block of all) {
    const file = `${work}typecheck/${block.name}.ts`;
    // `export {}` makes a block without imports a module too (top-level await, no shared globals).
    writeFileSync(file, `${block.source}\nexport {};\n`);
    files.set(file, block);
  }
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: ['@webgpu/types', 'vite/client', 'node'],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    esModuleInterop: true,
    resolveJsonModule: true,
    paths: {
      'webgpu-batchnorm': [`${root}src/index.ts`],
      'webgpu-batchnorm/tfjs': [`${root}src/tfjs/index.ts`],
      'webgpu-batchnorm/node': [`${root}src/node/index.ts`],
    },
  };
  const program = ts.createProgram([...files.keys()], options);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const block = d.file && files.get(d.file.fileName);
    if (!block || d.start === undefined) return `${d.file?.fileName ?? ''}: ${text}`;
    const { line } = d.file!.getLineAndCharacterOfPosition(d.start);
    return `${block.page}:${block.firstLine + line}: TS${d.code}: ${text}`;
  });
}

let env: NodeJS.ProcessEnv;
let adapterProblem: string | undefined;

beforeAll(async () => {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(`${work}typecheck`, { recursive: true });
  mkdirSync(`${work}run`, { recursive: true });
  // The library as published: the project's own Vite build (WGSL inlined) under its package name.
  await build({ root, configFile: `${root}vite.config.ts`, logLevel: 'warn', build: { outDir: `${packageDir}dist`, emptyOutDir: true } });
  const manifest = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { name: string; exports: unknown };
  writeFileSync(`${packageDir}package.json`, JSON.stringify({ name: manifest.name, type: 'module', exports: manifest.exports }));
  writeFileSync(`${work}browser-globals.mjs`, browserGlobals);

  env = { ...process.env, ...(swiftShaderEnv() ?? {}) };
  const probe = await runNode(['--import', './browser-globals.mjs', '--input-type=module', '-e',
    "const a = await globalThis.navigator?.gpu?.requestAdapter(); if (!a) { console.log('no adapter'); process.exit(3); }"], env);
  if (probe.code !== 0) {
    adapterProblem = `Dawn gives no WebGPU adapter in Node: ${probe.output.trim()} (install chromium for SwiftShader, or point VK_ICD_FILENAMES at a Vulkan driver)`;
    if (isCI()) throw new Error(`Doc blocks cannot run, and CI is set, so this run fails: ${adapterProblem}`);
    console.warn(`\n${'!'.repeat(78)}\n!! DOC BLOCKS NEEDING WEBGPU SKIPPED: ${adapterProblem}\n${'!'.repeat(78)}\n`);
  }
}, 240_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('code blocks of README.md and docs/*.md', () => {
  it('has blocks to check, in README.md and in docs/', () => {
    expect(blocks.some((b) => b.page === 'README.md')).toBe(true);
    expect(blocks.some((b) => b.page.startsWith('docs/'))).toBe(true);
  });

  it('README.md stays a front door: at most 12,000 bytes (details belong in docs/)', () => {
    expect(readFileSync(`${root}README.md`).byteLength).toBeLessThanOrEqual(12_000);
  });

  it('type-check as pasted (strict)', () => {
    expect(typeCheck(blocks)).toEqual([]);
  }, 400_000);

  for (const block of blocks) {
    it(`${block.where} runs as pasted`, async (context) => {
      const nodeProgram = isNodeProgram(block);
      if (adapterProblem && needsWebGpu(block)) context.skip();
      const file = `run/${block.name}.mjs`;
      const { outputText } = ts.transpileModule(block.source, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        fileName: `${block.name}.ts`,
      });
      writeFileSync(`${work}${file}`, outputText);
      const run = await runNode(nodeProgram ? [file] : ['--import', './browser-globals.mjs', file], env);
      if (run.code !== 0) throw new Error(`${block.where} exited with ${run.code}:\n${run.output}`);
    }, blockTimeoutMs + 10_000);
  }
});
