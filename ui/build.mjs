#!/usr/bin/env node
// Builds the operator console into dist/ui (served by the server at /ui/):
// esbuild bundles ui/src/main.tsx and its CSS into content-hashed files under
// dist/ui/assets, and index.html is written naming them. No inline script or
// style (the page runs under a strict Content-Security-Policy) and nothing
// loaded from elsewhere. Type checking is `tsc -p ui` (part of npm test).
import { build } from 'esbuild'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const out = process.argv[2] ?? join(here, '..', 'dist', 'ui')

await rm(out, { recursive: true, force: true })
await mkdir(join(out, 'assets'), { recursive: true })
const result = await build({
  entryPoints: { app: join(here, 'src', 'main.tsx') },
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
})
const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p))
const script = outputs.find((f) => f.endsWith('.js'))
const style = outputs.find((f) => f.endsWith('.css'))
if (script === undefined || style === undefined)
  throw new Error(`the console build made no script or no style: ${outputs.join(', ')}`)
const shell = (await readFile(join(here, 'index.html'), 'utf8'))
  .replace('%SCRIPT%', `assets/${script}`)
  .replace('%STYLE%', `assets/${style}`)
await writeFile(join(out, 'index.html'), shell)
