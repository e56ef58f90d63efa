/**
 * The layout's rules, checked on the source: folders follow the path of a call and import each
 * other without cycles; config/ imports nothing else from src/; the compatible API reaches the
 * embedded engine only through its facade; nothing under src/ imports tools, scripts or tests.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve('src');

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Every relative import of a source file, as a path relative to src/ (with .ts). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
    out.push(path.relative(SRC, path.resolve(path.dirname(file), m[1]!)).replace(/\.js$/, '.ts'));
  }
  return out;
}

/** The folder a module belongs to: its first path segment under src/, or its second under session/. */
const folder = (rel: string): string => {
  const parts = rel.split(path.sep);
  if (parts.length === 1) return '.';
  return parts[0]!;
};

const graph = new Map<string, Set<string>>();
const edges: Array<{ from: string; to: string }> = [];
for (const f of sources(SRC)) {
  const rel = path.relative(SRC, f);
  for (const to of imports(f)) {
    edges.push({ from: rel, to });
    const a = folder(rel);
    const b = folder(to);
    if (a === b) continue;
    if (!graph.has(a)) graph.set(a, new Set());
    graph.get(a)!.add(b);
  }
}

function findCycle(): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'open') return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      const c = visit(m);
      if (c) return c;
    }
    stack.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of graph.keys()) {
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}

describe('source layout', () => {
  it('has no import cycle between folders of src/', () => {
    expect(findCycle()).toBeUndefined();
  });

  it('config/ imports nothing else from src/', () => {
    expect(edges.filter((e) => e.from.startsWith(`config${path.sep}`) && !e.to.startsWith(`config${path.sep}`))).toEqual([]);
  });

  it('the compatible API reaches the embedded engine only through its facade', () => {
    const local = new Set(edges.filter((e) => e.from.startsWith(`api${path.sep}`) && e.to.startsWith(path.join('voice', 'local'))).map((e) => e.to));
    expect([...local].filter((t) => t !== path.join('voice', 'local', 'index.ts'))).toEqual([]);
  });

  it('nothing under src/ imports tools, scripts or tests', () => {
    expect(edges.filter((e) => e.to.startsWith('..'))).toEqual([]);
  });

  it('scripts and tools import nothing from test/ (the doubles and clips they share live in tools/)', () => {
    const offending: string[] = [];
    for (const dir of ['scripts', 'tools']) {
      const root = path.resolve(dir);
      const walk = (d: string): string[] =>
        readdirSync(d).flatMap((n) => {
          const p = path.join(d, n);
          if (n === 'node_modules') return [];
          return statSync(p).isDirectory() ? walk(p) : /\.(ts|mjs|js)$/.test(n) ? [p] : [];
        });
      for (const f of walk(root)) {
        for (const m of readFileSync(f, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
          const target = path.relative(path.resolve('.'), path.resolve(path.dirname(f), m[1]!));
          if (target.startsWith(`test${path.sep}`)) offending.push(`${path.relative(path.resolve('.'), f)} -> ${target}`);
        }
      }
    }
    expect(offending).toEqual([]);
  });
});
