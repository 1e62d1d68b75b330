/** Readable log lines for terminals: time, level, message, fields, and an error's stack below. */
import t from 'tap'
import { chooseLogFormat, createLogger } from '../src/logger.js'
import { formatLine } from '../src/log-pretty.js'

t.test('a JSON line becomes time, level, message and key=value fields', async (t) => {
  const line = JSON.stringify({
    level: 30,
    time: Date.UTC(2026, 6, 10, 12, 0, 1, 234),
    pid: 7,
    hostname: 'h',
    service: 's',
    reqId: 'job-1',
    msg: 'GET /healthz 200',
    status: 200,
    ua: 'curl 8',
    route: '/healthz',
  })
  t.equal(formatLine(line), '12:00:01.234 INFO  GET /healthz 200 reqId=job-1 status=200 ua="curl 8" route=/healthz')
})

t.test('an error prints its stack below the line, indented', async (t) => {
  const line = JSON.stringify({
    level: 50,
    time: 0,
    msg: 'boom',
    err: { type: 'Error', message: 'x', stack: 'Error: x\n    at f (a.js:1:1)' },
  })
  t.equal(formatLine(line), '00:00:00.000 ERROR boom\n    Error: x\n        at f (a.js:1:1)')
})

t.test('a line that is not JSON passes through', async (t) => {
  t.equal(formatLine('plain text\n'), 'plain text')
})

t.test('the pretty logger writes readable lines, with secrets still redacted', async (t) => {
  const out: string[] = []
  const logger = createLogger('info', { write: (s: string) => void out.push(s) }, 'pretty')
  logger.info({ authorization: 'Bearer secret-value', n: 1 }, 'hello')
  t.match(out.join(''), /^\d\d:\d\d:\d\d\.\d{3} INFO {2}hello authorization=\[redacted\] n=1\n$/)
})

t.test('auto is pretty on a terminal and JSON otherwise', async (t) => {
  t.equal(chooseLogFormat('auto', true), 'pretty')
  t.equal(chooseLogFormat('auto', false), 'json')
  t.equal(chooseLogFormat('json', true), 'json')
  t.equal(chooseLogFormat('pretty', false), 'pretty')
})
