// Rewrites the relative module specifiers of the emitted declarations (dist/**/*.d.ts) to the
// explicit paths that Node's ES-module resolution requires: `./engine` becomes `./engine.js`, `./optim`
// becomes `./optim/index.js`. Under moduleResolution node16 / nodenext, TypeScript resolves
// declarations the way Node resolves modules, so an extensionless specifier resolves to nothing and
// every re-export silently becomes `any`. The sources keep extensionless imports (the bundler
// resolves them); only the published declarations need the rewrite.
//
// Usage: node scripts/declaration-extensions.mjs [dir]   (default: dist)
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? 'dist');

function* declarations(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* declarations(path);
    else if (name.endsWith('.d.ts')) yield path;
  }
}

// `from '…'`, `import '…'`, `import('…')` and `require('…')`, with either quote.
const specifier = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)(['"])(\.{1,2}\/[^'"]*|\.{1,2})\2/g;

/** The explicit specifier for `spec` as seen from `file`, or an error when it names no declaration. */
function explicit(file, spec) {
  if (/\.(js|mjs|cjs|json)$/.test(spec)) return spec;
  const base = resolve(dirname(file), spec);
  if (existsSync(`${base}.d.ts`)) return `${spec}.js`;
  if (existsSync(join(base, 'index.d.ts'))) return `${spec.replace(/\/$/, '')}/index.js`;
  throw new Error(`${relative(process.cwd(), file)}: '${spec}' names no declaration file`);
}

let files = 0;
let rewritten = 0;
for (const file of declarations(root)) {
  const text = readFileSync(file, 'utf8');
  const out = text.replace(specifier, (_match, lead, quote, spec) => {
    const next = explicit(file, spec);
    if (next !== spec) rewritten++;
    return `${lead}${quote}${next}${quote}`;
  });
  files++;
  if (out !== text) writeFileSync(file, out);
}
if (files === 0) throw new Error(`no declaration files under ${root}: run tsc first`);
console.log(`declaration-extensions: ${rewritten} specifiers made explicit in ${files} files under ${relative(process.cwd(), root) || '.'}`);
