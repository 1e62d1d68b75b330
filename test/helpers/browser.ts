/**
 * Headless Chromium for the console's end-to-end tests: Debian's `chromium`
 * package (never a downloaded browser build) driven by playwright-core, with
 * a fresh profile directory and nothing that reaches the network on its
 * own. One browser per test file; each page is a tab of its own (its own
 * sessionStorage, so it signs in on its own).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { type BrowserContext, type Page, chromium } from 'playwright-core'

/** Where Debian's chromium package puts the browser (`.ci/run` installs it when missing). */
export const CHROMIUM = '/usr/bin/chromium'

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** A running browser: its one context over a fresh profile. */
export interface TestBrowser {
  readonly context: BrowserContext
  /** A new tab that fails the test on any page error or Content-Security-Policy violation. */
  newPage(t: Test): Promise<Page>
}

/** Launches Chromium for the whole file; closed (and its profile removed) at the end of `t`. */
export async function launchBrowser(
  t: Test,
  options: { viewport?: { width: number; height: number } } = {},
): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `the console's browser tests need Debian's chromium at ${CHROMIUM}: apt-get install -y chromium (bash .ci/run installs it when missing)`,
    )
  const profile = mkdtempSync(join(tmpdir(), 'unobin-chromium-'))
  let context: BrowserContext
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ARGS,
      headless: true,
      timeout: 60_000,
      viewport: options.viewport ?? { width: 1280, height: 800 },
      colorScheme: 'light',
      serviceWorkers: 'block',
      acceptDownloads: true,
    })
  } catch (err) {
    rmSync(profile, { recursive: true, force: true })
    throw err
  }
  context.setDefaultTimeout(15_000)
  t.teardown(async () => {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  })
  return {
    context,
    async newPage(tt: Test) {
      const page = await context.newPage()
      page.on('pageerror', (err) => tt.fail(`page error: ${err.message}`))
      page.on('console', (m) => {
        if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) tt.fail(`CSP violation: ${m.text()}`)
      })
      return page
    },
  }
}
