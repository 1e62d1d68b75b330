/**
 * Writes docs/tokens-file.schema.json from the TypeBox schema the server
 * checks tokens files with (`npm run tokens-schema`). A test fails when the
 * committed file differs, so run this after changing the schema.
 */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { TOKENS_SCHEMA_PATH, tokensFileJsonSchema } from '../auth/tokens-file-schema.js'

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const target = fileURLToPath(new URL(`../../../${TOKENS_SCHEMA_PATH}`, import.meta.url))
  writeFileSync(target, tokensFileJsonSchema())
  process.stdout.write(`wrote ${target}\n`)
}
