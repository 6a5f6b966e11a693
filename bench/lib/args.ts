/** Command line of `npm run bench` (bench/run.ts). */
import { isLayout } from '../../src/layout';
import type { Layout } from '../../src/types';
import { defaultLayouts, defaultSizes, formatSize, fullCaps, parseSize, quickCaps, quickSizes, type Caps } from './cases';
import { allOps, deviceLimitsModes, type DeviceLimitsMode, type Op } from './types';

export interface BenchArgs {
  quick: boolean;
  out: string;
  ops: Op[];
  layouts: Layout[];
  sizes: number[];
  browser: string | undefined;
  caps: Caps;
  deviceLimits: DeviceLimitsMode;
  /** The engine's launch tuning: the adapter's heuristics, or those of a real GPU whatever the adapter. */
  tuning: 'adapter' | 'gpu-defaults';
  /** Autotune the run's shapes, per op, before timing. */
  autotune: boolean;
  help: boolean;
}

export const usage = `usage: npm run bench -- [options]

  --quick              every op, NC/NHWC/NCHW, TF.js included, fewer sizes and repetitions
                       (sizes ${quickSizes.map(formatSize).join(', ')}; TF.js up to 4 MB): 1.5–2 minutes here
  --out FILE           results JSON (default bench/results/latest.json); the chart (NAME.svg) and
                       the markdown table are written beside it: README-table.md for latest.json,
                       NAME-table.md for any other NAME.json
  --ops LIST           forward-train,backward,inference (default: all)
  --layouts LIST       NC,NHWC,NCHW (default); also NCL, NLC, NCDHW, NDHWC
  --sizes LIST         bytes per tensor, e.g. 64KB,1MB,16MB (default 64KB…64MB, ×4 steps)
  --browser PATH       Chrome/Chromium to drive (default: PUPPETEER_EXECUTABLE_PATH, then system)
  --tfjs-max SIZE      largest tensor TF.js runs at (default 16MB; 4MB with --quick)
  --cpu-max SIZE       largest tensor our CPU path runs at (default 64MB; 16MB with --quick)
  --device-limits adapter|default
                       storage limits of the bench device: 'adapter' (default) requests the
                       adapter's maxStorageBufferBindingSize and maxBufferSize; 'default' requests
                       only the adapter's maxBufferSize and keeps WebGPU's default 128 MiB
                       maxStorageBufferBindingSize, so larger tensors are bound in several parts
  --tuning adapter|gpu-defaults
                       launch tuning the engine starts from: the adapter's (default; software
                       adapters get their own), or 'gpu-defaults', a real GPU's whatever the adapter
  --autotune           before timing, autotune every shape of the run per op (bn.gpu.autotune);
                       prints the tuning time per op and what was chosen
  --help               this text

Options may repeat; the last one wins (e.g. npm run bench:curve -- --device-limits adapter).`;

function list(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

export function parseArgs(argv: string[]): BenchArgs {
  const args: BenchArgs = {
    quick: false,
    out: 'bench/results/latest.json',
    ops: [...allOps],
    layouts: [...defaultLayouts],
    sizes: [],
    browser: undefined,
    caps: { ...fullCaps },
    deviceLimits: 'adapter',
    tuning: 'adapter',
    autotune: false,
    help: false,
  };
  let sizesGiven = false;
  const caps: Partial<Caps> = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const [name, inline] = flag.startsWith('--') && flag.includes('=') ? [flag.slice(0, flag.indexOf('=')), flag.slice(flag.indexOf('=') + 1)] : [flag, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || (inline === undefined && v.startsWith('--'))) throw new Error(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--quick':
        args.quick = true;
        break;
      case '--out':
        args.out = value();
        break;
      case '--ops': {
        const ops = list(value());
        for (const op of ops) if (!allOps.includes(op as Op)) throw new Error(`unknown op '${op}' (expected ${allOps.join(', ')})`);
        args.ops = ops as Op[];
        break;
      }
      case '--layouts': {
        const layouts = list(value()).map((l) => l.toUpperCase());
        for (const layout of layouts) if (!isLayout(layout)) throw new Error(`unknown layout '${layout}'`);
        args.layouts = layouts as Layout[];
        break;
      }
      case '--sizes':
        args.sizes = list(value()).map(parseSize);
        sizesGiven = true;
        break;
      case '--browser':
        args.browser = value();
        break;
      case '--tfjs-max': {
        const cap = parseSize(value());
        caps['tfjs-webgpu'] = cap;
        caps['tfjs-cpu'] = cap;
        break;
      }
      case '--cpu-max':
        caps.cpu = parseSize(value());
        break;
      case '--device-limits': {
        const mode = value().trim().toLowerCase();
        if (!deviceLimitsModes.includes(mode as DeviceLimitsMode)) throw new Error(`unknown --device-limits '${mode}' (expected ${deviceLimitsModes.join(' or ')})`);
        args.deviceLimits = mode as DeviceLimitsMode;
        break;
      }
      case '--tuning': {
        const tuning = value().trim().toLowerCase();
        if (tuning !== 'adapter' && tuning !== 'gpu-defaults') throw new Error(`unknown --tuning '${tuning}' (expected adapter or gpu-defaults)`);
        args.tuning = tuning;
        break;
      }
      case '--autotune':
        args.autotune = true;
        break;
      case '--help':
      case '-h':
        args.help = true;
        break;
      default:
        throw new Error(`unknown option '${flag}'\n\n${usage}`);
    }
  }
  if (!sizesGiven) args.sizes = args.quick ? [...quickSizes] : [...defaultSizes];
  args.caps = { ...(args.quick ? quickCaps : fullCaps), ...caps };
  if (args.ops.length === 0 || args.layouts.length === 0 || args.sizes.length === 0) throw new Error('nothing to run: empty --ops, --layouts or --sizes');
  return args;
}
