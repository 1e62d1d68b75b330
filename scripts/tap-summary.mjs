#!/usr/bin/env node
// Reads tap's TAP output on stdin and prints the line CI reads:
// "N passed, N failed", counting each test (a t.test at the top of a test
// file). A file that failed without a failing test in it (it crashed, or did
// not compile) counts as one failed test. Exits 1 when anything failed.
import { createInterface } from 'node:readline'

let passed = 0
let failed = 0
let failedInFile = 0
for await (const line of createInterface({ input: process.stdin })) {
  const sub = /^ {4}(not )?ok \d+ /.exec(line)
  const top = sub === null ? /^(not )?ok \d+ /.exec(line) : null
  if (sub !== null) {
    if (/# (SKIP|TODO)\b/i.test(line)) continue
    if (sub[1]) {
      failed++
      failedInFile++
    } else {
      passed++
    }
  } else if (top !== null) {
    if (top[1] && failedInFile === 0) failed++
    failedInFile = 0
  } else if (/^Bail out!/.test(line)) {
    failed++
  }
}
console.log(`${passed} passed, ${failed} failed`)
process.exitCode = failed > 0 || passed === 0 ? 1 : 0
