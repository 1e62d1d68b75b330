/** An answer: status, headers, the body text and the body parsed when it is JSON. */
export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly body: any // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Sends one request over a real socket with the global fetch and reads its body. */
export async function call(
  base: string,
  method: string,
  path: string,
  options: { json?: unknown; body?: Buffer; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers }
  let body: Buffer | string | undefined
  if (options.json !== undefined) {
    body = JSON.stringify(options.json)
    headers['content-type'] = 'application/json'
  } else if (options.body !== undefined) {
    body = options.body
    headers['content-type'] = 'application/json'
  }
  const res = await fetch(base + path, { method, headers, body })
  const text = await res.text()
  let parsed: unknown
  try {
    parsed = text === '' ? undefined : JSON.parse(text)
  } catch {
    parsed = undefined
  }
  return { status: res.status, headers: res.headers, text, body: parsed }
}

/** Sends `method path` (with a JSON `body` when given) to a running server as the holder of `token`. */
export function sendAs(base: string, token: string, method: string, path: string, body?: string): Promise<Response> {
  return fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body }),
  })
}

/** Awaits a setup request; throws (failing the setup loudly) unless it answered `status`. */
export async function expectStatus(pending: Promise<Response>, status: number): Promise<void> {
  const res = await pending
  if (res.status !== status) throw new Error(`setup answered ${res.status}, not ${status}: ${await res.text()}`)
}
