/**
 * Command line of `npm run bench` (bench/run.ts, the browser) and of the Node bench
 * (`npm run bench:node`, `node bench-gpu.mjs`: bench/node/bench-gpu.ts), which share every option
 * but the choice of browser or of Dawn's adapter.
 */
import { isLayout } from '../../src/layout';
import type { Layout } from '../../src/types';
import { defaultLayouts, defaultSizes, formatSize, fullCaps, groupNormChannels, KB, NORM_GROUPS, normDefaultSizes, normHiddenSizes, normQuickHiddenSizes, normQuickSizes, parseSize, quickCaps, quickSizes, type Caps } from './cases';

/** The one size of `--smoke`. */
const smokeSize = 64 * KB;
/** The size `--analyze` looks at unless --sizes says otherwise. */
const analyzeSize = 4096 * KB;
import { defaultOut, nodeDefaultOut } from './outputs';
import { allOps, batchNormOps, benchDtypes, normOps, deviceLimitsModes, type BenchDtype, type DeviceLimitsMode, type Op } from './types';

export interface BenchArgs {
  quick: boolean;
  /** Whether the small one-dispatch shapes (cases.ts smallShapes) join the run: not with --smoke or --shapes. */
  smallShapes: boolean;
  out: string;
  ops: Op[];
  layouts: Layout[];
  sizes: number[];
  /** Bytes per tensor of the norm ops' shapes (cases.ts normShapesFor): --sizes when given, else their own. */
  normSizes: number[];
  /** `--shapes`: exact shapes to run instead of layouts × sizes (e.g. a small CNN activation). */
  shapes: { layout: Layout; shape: number[] }[];
  browser: string | undefined;
  caps: Caps;
  deviceLimits: DeviceLimitsMode;
  /** Whether TF.js rows are measured (`--no-tfjs`: not). */
  tfjs: boolean;
  /** The adapter's nominal memory bandwidth (GB/s), to report the copy's fraction of it. */
  nominalGbps: number | undefined;
  /** Node: Dawn's choice of adapter (`--adapter`, `--backend`, `--icd`, `--swiftshader`). */
  dawn: DawnChoice;
  /** The engine's launch tuning: the adapter's heuristics, or those of a real GPU whatever the adapter. */
  tuning: 'adapter' | 'gpu-defaults';
  /** Autotune the run's shapes, per op, before timing. */
  autotune: boolean;
  /** Node: `--analyze`, where our kernels' time goes (bench/lib/analysis.ts) instead of the benchmark. */
  analyze: boolean;
  /** `--dtype`: the tensors' storage type of our rows (float16 needs the adapter's shader-f16). */
  dtype: BenchDtype;
  help: boolean;
}

export interface DawnChoice {
  /** Part of the adapter's name (Dawn's `adapter=` flag); e.g. "NVIDIA", "llvmpipe", "SwiftShader". */
  adapter: string | undefined;
  /** Dawn's backend (`backend=` flag): vulkan, metal, d3d12, d3d11, opengl, opengles, null. */
  backend: string | undefined;
  /** A Vulkan driver manifest (JSON) for the Vulkan loader (sets VK_ICD_FILENAMES). */
  icd: string | undefined;
  /** SwiftShader from a Chrome or Chromium install (its ICD and, when the system has none, its Vulkan loader). */
  swiftshader: boolean;
}

export type Runtime = 'browser' | 'node';

const commonOptions = `  --quick              every op, NC/NHWC/NCHW, fewer sizes and repetitions
                       (sizes ${quickSizes.map(formatSize).join(', ')}; TF.js up to 4 MB where it runs)
  --smoke              a check that everything runs: --quick timing at 64 KB only
  --ops LIST           batch norm ('batchnorm'): forward-train,backward,inference,
                       forward-train-residual,backward-residual; the norm family ('norms'):
                       layer-norm,layer-norm-backward,rms-norm,rms-norm-backward,group-norm,
                       group-norm-backward (default: all). Norm ops take their own shapes,
                       whatever --layouts: ${normHiddenSizes.map((D) => `[rows, ${D}]`).join(' and ')} (layer, RMS; ${normQuickHiddenSizes.join(', ')} only
                       with --quick), NCHW [N, ${groupNormChannels}, H, W] in ${NORM_GROUPS} groups (group), and a small one,
                       at ${normQuickSizes.map(formatSize).join(', ')} with --quick, ${normDefaultSizes.map(formatSize).join(', ')} otherwise, or --sizes
  --layouts LIST       NC,NHWC,NCHW (default); also NCL, NLC, NCDHW, NDHWC
  --sizes LIST         bytes per tensor, e.g. 64KB,1MB,16MB (default 64KB…64MB, ×4 steps)
  --shapes LIST        exact shapes instead of layouts × sizes, LAYOUT:DIMS each, e.g.
                       NCHW:16x256x16x16,NHWC:32x8x8x64,NC:32x128
  --cpu-max SIZE       largest tensor our CPU path runs at (default 64MB; 16MB with --quick)
  --tfjs-max SIZE      largest tensor TF.js runs at (default 16MB; 4MB with --quick)
  --no-tfjs            no TF.js rows
  --device-limits adapter|default
                       storage limits of the bench device: 'adapter' (default) requests the
                       adapter's maxStorageBufferBindingSize and maxBufferSize; 'default' requests
                       only the adapter's maxBufferSize and keeps WebGPU's default 128 MiB
                       maxStorageBufferBindingSize, so larger tensors are bound in several parts
  --nominal-gbps N     the adapter's nominal memory bandwidth in GB/s: the copy's share of it is
                       printed and stored (copyBandwidth in the JSON)
  --tuning adapter|gpu-defaults
                       launch tuning the engine starts from: the adapter's (default; software
                       adapters get their own), or 'gpu-defaults', a real GPU's whatever the adapter;
                       then every row is also timed with the adapter's own tuning ([hand-tuned …×],
                       extra.handTunedMs) and the ≥ 4 MB time ratio to it is printed per op
  --autotune           before timing, autotune every shape of the run per op (bn.gpu.autotune);
                       prints the tuning time per op and what was chosen
  --dtype float32|float16
                       storage type of the tensors (default float32). float16: our rows run with
                       dtype 'float16' (x, y, dy, dx, z, dz in float16, statistics float32) on
                       inputs rounded to float16, against floors of 2 bytes per value (the copy
                       moves the float16 tensor); needs the adapter's shader-f16 (the run stops
                       before timing without it); no TF.js rows; cases above the host caps skipped
  --help               this text`;

export const usage = `usage: npm run bench -- [options]

  --out FILE           results JSON (default ${defaultOut}); the chart (NAME.svg) and
                       the markdown table are written beside it: README-table.md for latest.json,
                       NAME-table.md for any other NAME.json
${commonOptions}
  --browser PATH       Chrome/Chromium to drive (default: PUPPETEER_EXECUTABLE_PATH, then system)

Options may repeat; the last one wins (e.g. npm run bench:curve -- --device-limits adapter).`;

export const nodeUsage = `usage: node bench-gpu.mjs [options]      (from the repository: npm run bench:node -- [options])

WebGPU through Dawn (the webgpu package's dawn.node) in this Node process, no browser; TF.js's
WebGPU backend runs on the same Dawn.
Dawn finds the system's driver (Vulkan, Metal, D3D12) by itself; these options choose another:

  --adapter NAME       the adapter whose name contains NAME (e.g. NVIDIA, llvmpipe, SwiftShader)
  --backend NAME       Dawn's backend: vulkan, metal, d3d12, d3d11, opengl, opengles
  --icd FILE           a Vulkan driver manifest (e.g. /usr/share/vulkan/icd.d/lvp_icd.json for
                       Mesa's lavapipe): sets VK_ICD_FILENAMES
  --swiftshader        SwiftShader from a Chrome or Chromium install (PUPPETEER_EXECUTABLE_PATH's
                       folder, /usr/lib/chromium, /opt/google/chrome, …)
  --out FILE           results JSON (default ${nodeDefaultOut}); chart and table beside it
  --analyze            instead of the benchmark: where our kernels' time goes. Per size, the copy
                       under many launch shapes; per layout and size, each of our kernels alone
                       and the whole ops under launch tunings for this kind of adapter (a GPU's
                       knobs one at a time around its defaults; --tuning gpu-defaults: those on
                       any adapter), in ms and GB/s. --layouts and --sizes (default 4MB) choose
                       the cases; writes JSON (default
                       ${nodeDefaultOut.replace(/\.json$/, '-analysis.json')})
${commonOptions}

Options may repeat; the last one wins.`;

function list(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** `NCHW:16x256x16x16` → { layout, shape }; the rank must be the layout's. */
function parseShape(text: string): { layout: Layout; shape: number[] } {
  const match = /^([A-Za-z]+):(\d+(?:x\d+)*)$/.exec(text.trim());
  const layout = match?.[1].toUpperCase();
  if (!match || !layout || !isLayout(layout)) throw new Error(`cannot read shape '${text}' (expected LAYOUT:DIMS, e.g. NCHW:16x256x16x16)`);
  const shape = match[2].split('x').map(Number);
  if (shape.length !== layout.length || shape.some((d) => !(d >= 1))) throw new Error(`shape '${text}': ${layout} needs ${layout.length} dimensions ≥ 1`);
  return { layout: layout as Layout, shape };
}

export function parseArgs(argv: string[], runtime: Runtime = 'browser'): BenchArgs {
  const args: BenchArgs = {
    quick: false,
    smallShapes: true,
    out: runtime === 'node' ? nodeDefaultOut : defaultOut,
    ops: [...allOps],
    layouts: [...defaultLayouts],
    sizes: [],
    normSizes: [],
    shapes: [],
    browser: undefined,
    caps: { ...fullCaps },
    deviceLimits: 'adapter',
    tfjs: true,
    nominalGbps: undefined,
    dawn: { adapter: undefined, backend: undefined, icd: undefined, swiftshader: false },
    tuning: 'adapter',
    autotune: false,
    analyze: false,
    dtype: 'float32',
    help: false,
  };
  let sizesGiven = false;
  let smoke = false;
  const only = (wanted: Runtime, name: string) => {
    if (runtime !== wanted) throw new Error(`${name} is an option of the ${wanted === 'node' ? 'Node bench (npm run bench:node)' : 'browser bench (npm run bench)'}`);
  };
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
      case '--smoke':
        smoke = true;
        break;
      case '--out':
        args.out = value();
        break;
      case '--ops': {
        // 'batchnorm' and 'norms' name each family's ops at once.
        const ops = list(value()).flatMap((op) => (op === 'norms' ? normOps : op === 'batchnorm' ? batchNormOps : [op]));
        for (const op of ops) if (!allOps.includes(op as Op)) throw new Error(`unknown op '${op}' (expected ${allOps.join(', ')}, or batchnorm or norms for each family's)`);
        args.ops = [...new Set(ops)] as Op[];
        break;
      }
      case '--layouts': {
        const layouts = list(value()).map((l) => l.toUpperCase());
        for (const layout of layouts) if (!isLayout(layout)) throw new Error(`unknown layout '${layout}'`);
        args.layouts = layouts as Layout[];
        break;
      }
      case '--shapes':
        args.shapes = list(value()).map(parseShape);
        break;
      case '--sizes':
        args.sizes = list(value()).map(parseSize);
        sizesGiven = true;
        break;
      case '--browser':
        only('browser', name);
        args.browser = value();
        break;
      case '--adapter':
        only('node', name);
        args.dawn.adapter = value();
        break;
      case '--backend':
        only('node', name);
        args.dawn.backend = value();
        break;
      case '--icd':
        only('node', name);
        args.dawn.icd = value();
        break;
      case '--swiftshader':
        only('node', name);
        args.dawn.swiftshader = true;
        break;
      case '--nominal-gbps': {
        const text = value();
        const gbps = Number(text);
        if (!(gbps > 0) || !Number.isFinite(gbps)) throw new Error(`--nominal-gbps needs a positive number of GB/s, not '${text}'`);
        args.nominalGbps = gbps;
        break;
      }
      case '--no-tfjs':
        args.tfjs = false;
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
      case '--analyze':
        only('node', name);
        args.analyze = true;
        break;
      case '--dtype': {
        const dtype = value().trim().toLowerCase();
        if (!benchDtypes.includes(dtype as BenchDtype)) throw new Error(`unknown --dtype '${dtype}' (expected ${benchDtypes.join(' or ')})`);
        args.dtype = dtype as BenchDtype;
        break;
      }
      case '--help':
      case '-h':
        args.help = true;
        break;
      default:
        throw new Error(`unknown option '${flag}'\n\n${runtime === 'node' ? nodeUsage : usage}`);
    }
  }
  if (args.dawn.swiftshader && args.dawn.icd) throw new Error('--swiftshader and --icd both choose the Vulkan driver: give one');
  if (smoke) {
    args.quick = true;
    args.smallShapes = false;
    if (!sizesGiven) args.sizes = [smokeSize];
  }
  if (!sizesGiven && !smoke) args.sizes = args.analyze ? [analyzeSize] : args.quick ? [...quickSizes] : [...defaultSizes];
  args.normSizes = sizesGiven || smoke ? [...args.sizes] : args.quick ? [...normQuickSizes] : [...normDefaultSizes];
  args.caps = { ...(args.quick ? quickCaps : fullCaps), ...caps };
  if (args.ops.length === 0 || args.layouts.length === 0 || args.sizes.length === 0) throw new Error('nothing to run: empty --ops, --layouts or --sizes');
  return args;
}
