#!/usr/bin/env node
// Bundles the compiled server (dist/src/server.js, tsc's output) with its
// dependencies into that same one file. Node loads some 300 modules to start
// the server unbundled, TypeBox alone several hundred files; resolving and
// compiling them was most of the time from exec to listening. Everything
// else in dist/src stays as tsc wrote it (the client, the tools, the tests'
// imports), and the parse worker stays a file of its own: the bundle imports
// src/parse/worker-file.js from beside it, so the worker's path still
// resolves against its own directory.
import { build } from 'esbuild'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const entry = fileURLToPath(new URL('../dist/src/server.js', import.meta.url))
/** Modules kept out of the bundle (they find files beside themselves). */
const kept = new Set([join(dirname(entry), 'parse', 'worker-file.js')])

await build({
  entryPoints: [entry],
  outfile: entry,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  // CommonJS dependencies (Fastify, pino) call require(); an ES module has none.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  plugins: [
    {
      name: 'kept-files',
      setup(b) {
        b.onResolve({ filter: /^\./ }, (args) => {
          const file = join(args.resolveDir, args.path)
          if (!kept.has(file)) return undefined
          return { path: `./${relative(dirname(entry), file)}`, external: true }
        })
      },
    },
  ],
})
