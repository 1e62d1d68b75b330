/**
 * Credentials that change without a restart: the tokens file is read again
 * on request (SIGHUP) and when its directory changes. A mounted Kubernetes
 * Secret is replaced by swapping the `..data` symlink beside the file, so a
 * watch on the file itself would keep watching the old inode: the directory
 * is watched instead, events are debounced (a swap is several renames), and
 * the file is read again and reloaded only when its content changed. A new
 * file is validated in full before it replaces anything: a bad file keeps
 * the credentials loaded before and the log says why (the file, the entry or
 * the line and column, never a token). The swap is one assignment, so a
 * revoked token is refused from the next request on.
 */
import { createHash } from 'node:crypto'
import { type FSWatcher, readFileSync, watch } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Identity } from './identity.js'
import { type Authenticator, type SecretAuthenticator, createAuthenticator } from './authenticator.js'
import { TokensFileError, parseTokensFile } from './tokens-file.js'

/** Where reloads are reported (a pino logger fits). */
export interface ReloadLog {
  info(facts: object, message: string): void
  warn(facts: object, message: string): void
  error(facts: object, message: string): void
}

/** What asked for a reload. */
export type ReloadTrigger = 'SIGHUP' | 'file change'

/** What a reload did. */
export type ReloadOutcome = 'reloaded' | 'unchanged' | 'refused'

/** Timing of the watch; the defaults suit a mounted Secret. */
export interface WatchOptions {
  /** Quiet time after the last event before the file is read (a symlink swap is several events). */
  readonly debounceMs?: number
  /** When the directory cannot be watched (inotify limits, some network filesystems): how often to re-read instead. */
  readonly pollMs?: number
}

/** How long the watch waits for the directory to be quiet. */
export const DEFAULT_DEBOUNCE_MS = 500

/** How often the file is re-read when the directory cannot be watched. */
export const DEFAULT_POLL_MS = 10_000

/** The credentials of a tokens file, swapped for the file's new content on reload. */
export class CredentialsReloader implements SecretAuthenticator {
  readonly #path: string
  readonly #log: ReloadLog
  #current: Authenticator
  #digest: string
  /** Reloads run one after another: the last one to finish is the newest read. */
  #queue: Promise<unknown> = Promise.resolve()
  #watcher: FSWatcher | null = null
  #timer: NodeJS.Timeout | null = null
  #poll: NodeJS.Timeout | null = null
  #closed = false
  /** The last refusal's reason: a watch or poll that meets the same bad file again does not log it again. */
  #lastRefusal: string | null = null

  private constructor(path: string, text: string, log: ReloadLog) {
    this.#path = path
    this.#log = log
    this.#current = createAuthenticator(parseTokensFile(text, path))
    this.#digest = digestOf(text)
  }

  /** Reads and validates the tokens file at `path`. Throws TokensFileError (the server does not start). */
  static open(path: string, log: ReloadLog): CredentialsReloader {
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch (err) {
      throw new TokensFileError(unreadable(path, err))
    }
    return new CredentialsReloader(path, text, log)
  }

  /** The identity of `secret` under the credentials loaded now. */
  authenticate(secret: string): Promise<Identity> {
    return this.#current.authenticate(secret)
  }

  describe(): { tokens: number; issuers: string[] } {
    return this.#current.describe()
  }

  /**
   * Reads the file again. On SIGHUP it is always reloaded (and logged); on a
   * file change only when its content differs. A file that cannot be read
   * or is invalid changes nothing: the old credentials stay, the log says why.
   */
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const next = this.#queue.then(() => this.#reload(trigger))
    this.#queue = next.catch(() => undefined)
    return next
  }

  async #reload(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const facts = { tokensFile: this.#path, trigger }
    let text: string
    try {
      text = await readFile(this.#path, 'utf8')
    } catch (err) {
      this.#refused(trigger, unreadable(this.#path, err))
      return 'refused'
    }
    const digest = digestOf(text)
    if (trigger === 'file change' && digest === this.#digest) return 'unchanged'
    let next: Authenticator
    try {
      next = createAuthenticator(parseTokensFile(text, this.#path))
    } catch (err) {
      // Whatever went wrong, the credentials loaded before stay: a reload never takes the server down.
      this.#refused(trigger, err instanceof TokensFileError ? err.message : `${this.#path}: ${(err as Error).message}`)
      return 'refused'
    }
    this.#current = next
    this.#digest = digest
    this.#lastRefusal = null
    const loaded = next.describe()
    this.#log.info(
      { ...facts, credentials: loaded },
      `credentials reloaded: ${loaded.tokens} tokens and ${loaded.issuers.length} OIDC issuers loaded`,
    )
    return 'reloaded'
  }

  #refused(trigger: ReloadTrigger, reason: string): void {
    const repeated = trigger === 'file change' && reason === this.#lastRefusal
    this.#lastRefusal = reason
    if (repeated) return
    const kept = this.#current.describe()
    this.#log.error(
      { tokensFile: this.#path, trigger, reason, credentials: kept },
      `the tokens file was not reloaded: ${reason}; the ${kept.tokens} tokens and ${kept.issuers.length} OIDC issuers loaded before stay in force`,
    )
  }

  /**
   * Reloads after changes in the file's directory (debounced), or, when the
   * directory cannot be watched, re-reads it every `pollMs`. Stop with close().
   */
  watch(options: WatchOptions = {}): void {
    if (this.#closed || this.#watcher !== null || this.#poll !== null) return
    const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS
    const pollMs = options.pollMs ?? DEFAULT_POLL_MS
    const directory = dirname(this.#path)
    const changed = () => {
      if (this.#closed) return
      if (this.#timer !== null) clearTimeout(this.#timer)
      this.#timer = setTimeout(() => {
        this.#timer = null
        void this.reload('file change')
      }, debounceMs)
      this.#timer.unref()
    }
    const poll = (err: unknown) => {
      this.#watcher?.close()
      this.#watcher = null
      if (this.#closed) return
      this.#log.warn(
        { tokensFile: this.#path, directory, errno: (err as NodeJS.ErrnoException).code ?? null, pollMs },
        `cannot watch ${directory} for changes (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): the tokens file is re-read every ${pollMs} ms instead; SIGHUP reloads it at once`,
      )
      this.#poll = setInterval(() => void this.reload('file change'), pollMs)
      this.#poll.unref()
    }
    try {
      this.#watcher = watch(directory, { persistent: false }, changed)
      this.#watcher.on('error', poll)
    } catch (err) {
      poll(err)
    }
  }

  /** Stops watching; reloads already started finish. */
  close(): void {
    this.#closed = true
    this.#watcher?.close()
    this.#watcher = null
    if (this.#timer !== null) clearTimeout(this.#timer)
    if (this.#poll !== null) clearInterval(this.#poll)
  }
}

function digestOf(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

function unreadable(path: string, err: unknown): string {
  return `cannot read the tokens file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`
}
