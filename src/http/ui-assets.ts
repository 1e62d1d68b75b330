/**
 * The console's built files (`npm run build` writes them to `dist/ui`),
 * read once at start and served from memory: the page shell `index.html`
 * and content-hashed assets under `assets/`. Each file carries its media
 * type, a strong ETag and a gzip copy, so answers cost no disk access.
 */
import { createHash } from 'node:crypto'
import { readFile, readdir } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { gzipSync } from 'node:zlib'

/** One file of the console, ready to send. */
export interface UiFile {
  readonly body: Buffer
  /** The gzip-compressed body; null when compressing would not save bytes. */
  readonly gzip: Buffer | null
  readonly type: string
  /** A strong ETag (quoted) derived from the content. */
  readonly etag: string
}

/** The console's files: the shell and the assets by file name. */
export interface UiAssets {
  readonly index: UiFile
  readonly assets: ReadonlyMap<string, UiFile>
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
}

/**
 * Reads the console built into `dir`. Answers null when `dir` holds no
 * `index.html` (the console was not built: the server runs without it);
 * throws on any other read error.
 */
export async function loadUiAssets(dir: string): Promise<UiAssets | null> {
  let indexBody: Buffer
  try {
    indexBody = await readFile(join(dir, 'index.html'))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR')
      return null
    throw err
  }
  const assets = new Map<string, UiFile>()
  const names = await readdir(join(dir, 'assets')).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[]
    throw err
  })
  for (const name of names.sort()) {
    const type = TYPES[extname(name)]
    if (type === undefined) continue
    assets.set(name, uiFile(await readFile(join(dir, 'assets', name)), type))
  }
  return { index: uiFile(indexBody, TYPES['.html']!), assets }
}

function uiFile(body: Buffer, type: string): UiFile {
  const gz = gzipSync(body, { level: 9 })
  return {
    body,
    gzip: gz.length < body.length ? gz : null,
    type,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
  }
}
