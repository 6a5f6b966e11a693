/**
 * A small reader of WGSL files for the import checks (test/node/shader-imports.test.ts): what a
 * file declares at module scope, and which module-scope names of other files it uses. It reads the
 * library's own files, not WGSL at large: comments are `//` lines, declarations start with fn,
 * struct, const, override, alias or var, and bodies are balanced braces.
 */

export interface FileFacts {
  /** Module-scope declarations of the file. */
  declares: Set<string>;
  /** Fields of each struct the file declares. */
  structFields: Map<string, Set<string>>;
  /** Types of the file's module-scope vars (e.g. params → Params). */
  varTypes: Map<string, string>;
  /** Identifiers the file uses, apart from its locals, parameters and member names. */
  uses: Set<string>;
}

const stripComments = (code: string) => code.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');

/** The text at brace depth 0, with each braced body replaced by `{}`, and the bodies apart. */
function splitBodies(code: string): { top: string; bodies: string[] } {
  let top = '';
  const bodies: string[] = [];
  let depth = 0;
  let body = '';
  for (const ch of code) {
    if (ch === '{') {
      if (depth === 0) {
        top += '{}';
        body = '';
      } else body += ch;
      depth++;
    } else if (ch === '}') {
      depth--;
      if (depth === 0) bodies.push(body);
      else body += ch;
    } else if (depth === 0) top += ch;
    else body += ch;
  }
  return { top, bodies };
}

/** `name: type` pairs of a struct body or a parameter list; commas inside <…> or (…) stay in the type. */
function typedNames(text: string): [string, string][] {
  const parts: string[] = [];
  let depth = 0;
  let part = '';
  for (const ch of text) {
    if (ch === '<' || ch === '(') depth++;
    if (ch === '>' || ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(part);
      part = '';
    } else part += ch;
  }
  parts.push(part);
  return parts.flatMap((p) => {
    const m = /^\s*(?:@\w+(?:\([^)]*\))?\s*)*(\w+)\s*:\s*([\s\S]+)$/.exec(p);
    return m ? [[m[1], m[2]] as [string, string]] : [];
  });
}

const identifiers = (text: string) => new Set(text.replace(/\.\s*[A-Za-z_]\w*/g, ' ').match(/\b[A-Za-z_]\w*\b/g) ?? []);

export function readWgsl(source: string): FileFacts {
  const code = stripComments(source);
  const declares = new Set<string>();
  const structFields = new Map<string, Set<string>>();
  const varTypes = new Map<string, string>();
  const locals = new Set<string>();
  const uses = new Set<string>();

  // Module-scope declarations, in source order, each with its body (fn, struct) if it has one.
  const { top, bodies } = splitBodies(code);
  let bodyIndex = 0;
  const statements = top.split(/(?<=;|\{\})/);
  for (const statement of statements) {
    const hasBody = statement.includes('{}');
    const body = hasBody ? bodies[bodyIndex++] : '';
    let m: RegExpExecArray | null;
    if ((m = /\bstruct\s+(\w+)/.exec(statement))) {
      declares.add(m[1]);
      const fields = new Set<string>();
      for (const [field, type] of typedNames(body)) {
        fields.add(field);
        for (const id of identifiers(type)) uses.add(id);
      }
      structFields.set(m[1], fields);
    } else if ((m = /\bfn\s+(\w+)\s*\(([\s\S]*?)\)\s*(->[\s\S]*)?\{\}/.exec(statement))) {
      declares.add(m[1]);
      for (const [param, type] of typedNames(m[2])) {
        locals.add(param);
        for (const id of identifiers(type)) uses.add(id);
      }
      for (const id of identifiers(m[3] ?? '')) uses.add(id);
      for (const local of body.matchAll(/\b(?:let|var|const)\s*(?:<[^>]*>)?\s+(\w+)/g)) locals.add(local[1]);
      for (const id of identifiers(body)) uses.add(id);
    } else if ((m = /\b(?:const|override|alias)\s+(\w+)([\s\S]*)/.exec(statement))) {
      declares.add(m[1]);
      for (const id of identifiers(m[2])) uses.add(id);
    } else if ((m = /\bvar\s*(?:<[^>]*>)?\s+(\w+)\s*:\s*([^;=]+)/.exec(statement))) {
      declares.add(m[1]);
      varTypes.set(m[1], m[2].trim());
      for (const id of identifiers(m[2])) uses.add(id);
    }
  }
  for (const name of [...declares, ...locals]) uses.delete(name);
  return { declares, structFields, varTypes, uses };
}

/**
 * The `@group(0) @binding(n) var<…> name` declarations of a linked module, name → n, so tests check
 * the order in which host code lists a kernel's buffers against the numbers the WGSL gives them. A
 * name declared at two bindings (a scalar and a vec4 view) keeps the first.
 */
export function shaderBindings(code: string): ReadonlyMap<string, number> {
  const bindings = new Map<string, number>();
  const declaration = /@group\(\s*0\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var(?:<[^>]*>)?\s+(\w+)/g;
  for (const match of stripComments(code).matchAll(declaration)) {
    if (!bindings.has(match[2])) bindings.set(match[2], Number(match[1]));
  }
  return bindings;
}
