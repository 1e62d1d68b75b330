/**
 * `unobin-state-server hash-token`: reads a token on stdin and prints the
 * line to put in the tokens file (`hash: sha256:<hex>`), so an operator
 * never has to get `printf … | sha256sum` right (a trailing newline from
 * `echo` would hash a different token). One trailing newline is dropped;
 * anything else is hashed as given.
 */
import { hashToken } from '../auth/token-hash.js'
import type { CommandIo } from './reseal.js'

const USAGE = `Usage: unobin-state-server hash-token < token-file
       printf %s "$TOKEN" | unobin-state-server hash-token

Reads one token on stdin (a trailing newline is dropped) and prints the line
for the tokens file:
  hash: sha256:<64 hex digits>
Make a token with: openssl rand -hex 32
`

/** Runs the command over `input` (stdin's text); returns the exit status. */
export function hashTokenCommand(argv: readonly string[], input: string, io: CommandIo): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out.write(USAGE)
    return 0
  }
  if (argv.length > 0) {
    io.err.write(
      `unobin-state-server hash-token: unexpected argument ${JSON.stringify(argv[0])}: the token is read on stdin, never from the command line (it would be in the shell history)\n${USAGE}`,
    )
    return 2
  }
  const token = input.replace(/\r?\n$/, '')
  if (token === '') {
    io.err.write(
      'unobin-state-server hash-token: stdin is empty: pipe the token in (printf %s "$TOKEN" | unobin-state-server hash-token)\n',
    )
    return 2
  }
  if (/[\r\n]/.test(token)) {
    io.err.write('unobin-state-server hash-token: stdin holds more than one line: give one token\n')
    return 2
  }
  io.out.write(`hash: ${hashToken(token)}\n`)
  return 0
}
