/**
 * The package as an application gets it: `npm pack` (which runs `prepare`, so dist/ is built as a git
 * or tarball install builds it), the tarball installed into a scratch consumer without the network,
 * the consumer type-checked under each module resolution an application may use, with skipLibCheck
 * off so the published declarations are checked too, then run in plain Node.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'webgpu-batchnorm-consumer-'));
const consumer = join(scratch, 'app');
const tsc = join(consumer, 'node_modules/typescript/bin/tsc');

/** Runs a command; its output is shown only when it fails. */
function run(command: string, args: string[], cwd: string): string {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: 'pipe', env: { ...process.env, npm_config_update_notifier: 'false' } });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? ''}\n${e.message}`);
  }
}

// Every line here must type-check under each resolution: the @ts-expect-error lines fail the compile
// (TS2578, unused directive) when the declarations resolve to nothing and every import is `any`.
const consumerSource = `import { createBatchNorm, BatchNormError } from 'webgpu-batchnorm';
import { createNodeBatchNorm } from 'webgpu-batchnorm/node';
import { defaultTuning, type KernelTuning } from 'webgpu-batchnorm/advanced';

// @ts-expect-error createBatchNorm is a function, not a number
const notANumber: number = createBatchNorm;
const tuning: KernelTuning = { ...defaultTuning, workgroupSize: 64 };
// @ts-expect-error workgroupSize is a number
const badTuning: KernelTuning = { ...defaultTuning, workgroupSize: '64' };

const bn = await createBatchNorm({ backend: 'cpu' });
const x = Float32Array.from({ length: 12 }, (_, i) => i);            // shape [4, 3]: channel c holds c, c + 3, …
const out = await bn.forwardTrain(x, { shape: [4, 3] });
const dy = Float32Array.from({ length: 12 }, (_, i) => (i % 3) - 1);
const grads = await bn.backward(dy, x, { shape: [4, 3] }, out);

let code = '';
try {
  await bn.forwardTrain(new Float32Array(5), { shape: [4, 3] });
} catch (e) {
  if (e instanceof BatchNormError) {
    // @ts-expect-error e is narrowed to BatchNormError, whose code is a string union
    const wrong: number = e.code;
    code = e.code + (typeof wrong === 'string' ? '' : '?');
  }
}
bn.dispose();

const node = await createNodeBatchNorm({ backend: 'cpu' });
const nodeOut = await node.forwardTrain(x, { shape: [4, 3] });
await node.dispose();

console.log(JSON.stringify({
  kind: typeof notANumber,
  mean: Array.from(out.mean), variance: Array.from(out.variance), dbeta: Array.from(grads.dbeta),
  code, nodeBackend: node.backend, nodeMean: Array.from(nodeOut.mean),
  workgroupSize: tuning.workgroupSize, bad: typeof badTuning,
}));
`;

const resolutions = [
  { moduleResolution: 'bundler', module: 'esnext' },
  { moduleResolution: 'node16', module: 'node16' },
  { moduleResolution: 'nodenext', module: 'nodenext' },
] as const;

/** Links a package already installed for the project into the consumer (no network needed). */
function linkInstalled(name: string): void {
  const target = join(consumer, 'node_modules', name);
  mkdirSync(dirname(target), { recursive: true });
  symlinkSync(join(root, 'node_modules', name), target, 'dir');
}

describe('the packed package in a consumer', () => {
  beforeAll(() => {
    run('npm', ['pack', '--pack-destination', scratch, '--silent'], root);
    const tarball = readdirSync(scratch).find((name) => name.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack wrote no tarball in ${scratch}`);
    mkdirSync(consumer);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--silent', join(scratch, tarball)], consumer);
    // @webgpu/types needs the DOM library; a Node application adds @types/node for the /node entry.
    for (const name of ['typescript', '@webgpu/types', '@types/node']) linkInstalled(name);
    writeFileSync(join(consumer, 'consumer.ts'), consumerSource);
  }, 600_000);
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('ships the built entry points and their declarations', () => {
    const dist = readdirSync(join(consumer, 'node_modules/webgpu-batchnorm/dist'));
    for (const file of ['index.js', 'index.d.ts', 'node.js', 'node-host.js', 'tfjs.js']) expect(dist).toContain(file);
  });

  for (const { moduleResolution, module } of resolutions) {
    it(`type-checks under moduleResolution ${moduleResolution} with skipLibCheck off`, () => {
      const config = `tsconfig.${moduleResolution}.json`;
      writeFileSync(join(consumer, config), JSON.stringify({
        compilerOptions: {
          target: 'ES2022', module, moduleResolution, lib: ['ES2022', 'DOM'], types: ['node', '@webgpu/types'],
          strict: true, skipLibCheck: false, outDir: `out-${moduleResolution}`,
        },
        files: ['consumer.ts'],
      }));
      // skipLibCheck off: tsc checks every declaration the consumer sees (the DOM, Node's, ours),
      // which takes tens of seconds on a loaded machine.
      run(process.execPath, [tsc, '-p', config], consumer);
    }, 300_000);
  }

  // Runs what the nodenext case above emitted (tests of a file run in order).
  it('runs in plain Node (CPU backend), the compiled consumer under nodenext', () => {
    const output = run(process.execPath, ['out-nodenext/consumer.js'], consumer);
    const result = JSON.parse(output.trim().split('\n').pop()!);
    expect(result).toEqual({
      kind: 'function',
      mean: [4.5, 5.5, 6.5], // channel c: c, c + 3, c + 6, c + 9
      variance: [11.25, 11.25, 11.25], // biased: ((−4.5)² + (−1.5)² + 1.5² + 4.5²) / 4
      dbeta: [-4, 0, 4], // Σ dy per channel: 4 rows of (c − 1)
      code: 'length-mismatch',
      nodeBackend: 'cpu',
      nodeMean: [4.5, 5.5, 6.5],
      workgroupSize: 64,
      bad: 'object',
    });
  }, 60_000);
});
