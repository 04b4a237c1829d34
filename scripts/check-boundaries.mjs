#!/usr/bin/env node
// Dependencies point inwards: src/core imports nothing from the outer layers,
// and only src/http imports Fastify. Fails CI when the boundary erodes.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const walk = (dir) =>
  readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : /\.ts$/.test(p) ? [p] : [];
  });
const rules = [
  { dir: 'src/core', banned: [/from '\.\.\/(stores|http|verifier|cli|adapters)\b/, /from '(fastify|@fastify\/[^']+|better-sqlite3|pg|redis)'/] },
  { dir: 'src/stores', banned: [/from '\.\.\/(http|verifier|cli)\b/, /from '(fastify|@fastify\/[^']+)'/] },
  { dir: 'src/verifier', banned: [/from '\.\.\/(stores|http|cli)\b/, /from '(better-sqlite3|pg)'/] },
];
let bad = 0;
for (const { dir, banned } of rules) {
  let files = [];
  try { files = walk(join(root, dir)); } catch { continue; }
  for (const f of files) {
    const src = readFileSync(f, 'utf8');
    for (const re of banned) {
      const m = src.match(re);
      if (m) { console.error(`${relative(root, f)}: imports across the boundary: ${m[0]}`); bad++; }
    }
  }
}
if (bad) process.exit(1);
console.log('boundaries ok');
