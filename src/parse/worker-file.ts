/**
 * Where the parse worker's code is: beside this file. The server bundle
 * (scripts/bundle-server.mjs) imports this module from its own file, so
 * the worker's path resolves here, not against the bundle. Tests run the
 * TypeScript sources; the server runs the compiled JavaScript.
 */
const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js'

/** The parse worker's module. */
export const PARSE_WORKER_FILE = new URL(`./parse-worker.${ext}`, import.meta.url)
