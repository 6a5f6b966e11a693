/**
 * `npm run bench:publish`: a run becomes the published one (results folder and README block) only
 * when it satisfies the contract and has no wrong webgpu rows; other README text is kept.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { publish } from '../../bench/publish';
import type { Report } from '../../bench/lib/report';

const committed = readFileSync(new URL('../../bench/results/latest.json', import.meta.url), 'utf8');
const committedNorms = readFileSync(new URL('../../bench/results/norms.json', import.meta.url), 'utf8');
const readmeText = 'intro\n\n<!-- BENCH:start (bench/readme-summary.ts) -->\nold table\n<!-- BENCH:end -->\n\nafter\n';
const normsBlock = '<!-- NORMS:start (bench/readme-norms.ts) -->\nold norms\n<!-- NORMS:end -->\n';

describe('bench:publish', () => {
  const dirs: string[] = [];
  const scratch = () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-publish-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'README.md'), readmeText);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('copies the run, draws its chart and table, and rewrites only the README block', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'latest.json'), committed);
    const into = join(dir, 'results');
    const result = publish(join(dir, 'latest.json'), into, join(dir, 'README.md'));
    expect(result.readmeBlock).toBe('BENCH');
    expect(readFileSync(join(into, 'latest.json'), 'utf8')).toBe(committed);
    expect(readFileSync(join(into, 'latest.svg'), 'utf8')).toMatch(/^<svg/);
    expect(readFileSync(join(into, 'README-table.md'), 'utf8')).toMatch(/\| op \| layout \| shape \| impl \|/);
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(readme.startsWith('intro\n\n<!-- BENCH:start')).toBe(true);
    expect(readme.endsWith('<!-- BENCH:end -->\n\nafter\n')).toBe(true);
    expect(readme).not.toContain('old table');
    expect(readme).toMatch(/\| forward-train \| NC \|/);
  });

  it('rewrites the norm family block from norms.json, and both blocks from a latest.json with norm rows', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'README.md'), readmeText + normsBlock);
    writeFileSync(join(dir, 'norms.json'), committedNorms);
    expect(publish(join(dir, 'norms.json'), join(dir, 'results'), join(dir, 'README.md')).readmeBlock).toBe('NORMS');
    let readme = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(readme).toContain('old table');
    expect(readme).not.toContain('old norms');
    for (const op of ['layer-norm', 'layer-norm-backward', 'rms-norm', 'rms-norm-backward', 'group-norm', 'group-norm-backward']) expect(readme).toMatch(new RegExp(`^\\| ${op} \\| `, 'm'));
    // A run of both families: batch norm's table keeps batch norm's ops, the norm rows go to their block.
    // (The committed latest.json may hold norm rows of its own: they are replaced by norms.json's.)
    const both = JSON.parse(committed) as Report;
    both.cases = both.cases.filter((row) => !row.op.includes('norm'));
    both.cases.push(...(JSON.parse(committedNorms) as Report).cases);
    writeFileSync(join(dir, 'README.md'), readmeText + normsBlock);
    writeFileSync(join(dir, 'latest.json'), JSON.stringify(both));
    expect(publish(join(dir, 'latest.json'), join(dir, 'results'), join(dir, 'README.md')).readmeBlock).toBe('BENCH, NORMS');
    readme = readFileSync(join(dir, 'README.md'), 'utf8');
    const bench = readme.slice(readme.indexOf('BENCH:start'), readme.indexOf('BENCH:end'));
    expect(bench).toMatch(/\| forward-train \| NC \|/);
    expect(bench).not.toMatch(/norm/);
    expect(readme.slice(readme.indexOf('NORMS:start'))).toMatch(/\| group-norm-backward \| NCHW \| 8×128×32×32 \| 4 MB \| /);
  });

  it('refuses a run with a wrong webgpu row or a broken contract, and writes nothing', () => {
    for (const [what, change] of [
      ['wrong results', (report: Report) => void (report.cases.find((row) => row.impl === 'webgpu')!.maxAbsErr = 0.5)],
      ['schema', (report: Report) => void ((report as { schema: number }).schema = 2)],
    ] as const) {
      const dir = scratch();
      const report = JSON.parse(committed) as Report;
      change(report);
      writeFileSync(join(dir, 'latest.json'), JSON.stringify(report));
      expect(() => publish(join(dir, 'latest.json'), join(dir, 'results'), join(dir, 'README.md'))).toThrow(new RegExp(what));
      expect(existsSync(join(dir, 'results'))).toBe(false);
      expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe(readmeText);
    }
  });

  it('leaves a README without the block alone, and other results files out of it', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'README.md'), 'no markers\n');
    writeFileSync(join(dir, 'latest.json'), committed);
    expect(publish(join(dir, 'latest.json'), join(dir, 'results'), join(dir, 'README.md')).readmeBlock).toBeUndefined();
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('no markers\n');
    writeFileSync(join(dir, 'node.json'), committed);
    const other = publish(join(dir, 'node.json'), join(dir, 'results'), join(dir, 'README.md'));
    expect(other.readmeBlock).toBeUndefined();
    expect(other.files.map((file) => file.slice(dir.length + 1))).toEqual(['results/node.json', 'results/node.svg', 'results/node-table.md']);
  });
});
