/**
 * The `http` backend's own state (its lock id and the LockInfo it locked
 * with), kept exactly like the Go `httpClient` struct, and which answers
 * go-retryablehttp would send again.
 */
import { GoJsonError, type GoLockInfo, type GoResponse, marshalLockInfo, parseGoJson, withLockId } from './encoding.js'
import { type FrameOptions, type GoHttpClient, GoTransportError } from './transport.js'

/**
 * Whether go-retryablehttp's DefaultRetryPolicy sends the request again after
 * this outcome: transport errors, 429 and every 5xx except 501 are retried;
 * everything else (409 and 423 included) is final.
 */
export function retryablePolicy(outcome: number | 'transport-error'): boolean {
  if (outcome === 'transport-error' || outcome === 0) return true
  if (outcome === 429) return true
  return outcome >= 500 && outcome !== 501
}

export interface HttpBackendConfig {
  readonly address: string
  readonly updateMethod?: 'POST' | 'PUT'
  readonly lockAddress?: string
  readonly unlockAddress?: string
  readonly lockMethod?: string
  readonly unlockMethod?: string
}

/** What a LOCK came to, as the backend sees it. */
export interface LockOutcome {
  readonly response: GoResponse
  /** The lock id, on 200. */
  readonly id?: string
  /** The holder's LockInfo decoded with Go's rules, on 409/423 when it decodes. */
  readonly holder?: GoLockInfo
  /** Why the 409/423 body did not decode (the client then cannot retry under -lock-timeout). */
  readonly decodeError?: GoJsonError
}

/** What a GET came to: the state bytes, or null for "no state". */
export interface GetOutcome {
  readonly response: GoResponse
  readonly state: Buffer | null
}

/**
 * The `http` backend's client state and operations, as in the Go httpClient:
 * `lockId` and `jsonLockInfo` are remembered only when a LOCK answers 200;
 * writes carry `?ID=` only then; UNLOCK sends the remembered LockInfo (a fresh
 * client has none: Terraform sends an empty body, OpenTofu the ID alone).
 */
export class HttpBackend {
  readonly client: GoHttpClient
  readonly config: Required<HttpBackendConfig>
  lockId = ''
  jsonLockInfo: Buffer | null = null

  constructor(client: GoHttpClient, config: HttpBackendConfig) {
    this.client = client
    this.config = {
      updateMethod: 'POST',
      lockAddress: config.address,
      unlockAddress: config.address,
      lockMethod: 'LOCK',
      unlockMethod: 'UNLOCK',
      ...config,
    }
  }

  /** GET: the state, or null for "no state" (200 empty, 204, 404). Throws where the client fails. */
  async get(): Promise<GetOutcome> {
    const response = await this.client.get(this.config.address)
    if (response.status === 204 || response.status === 404) return { response, state: null }
    if (response.status !== 200)
      throw new GoTransportError(`HTTP remote state endpoint invalid response code ${response.status}`)
    if (response.body.length === 0) return { response, state: null }
    const md5 = response.headers['content-md5']
    if (
      md5 !== undefined &&
      md5 !== '' &&
      !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(md5)
    ) {
      throw new GoTransportError(`Failed to decode Content-MD5 '${md5}'`)
    }
    return { response, state: response.body }
  }

  /** Writes the state with update_method, adding ?ID= while this client holds the lock. */
  async put(data: Buffer, options?: FrameOptions): Promise<GoResponse> {
    const target = this.lockId === '' ? this.config.address : withLockId(this.config.address, this.lockId)
    return this.client.send(this.config.updateMethod, target, data, options)
  }

  /** DELETE of the address, without a body (Go's nil data). */
  async delete(): Promise<GoResponse> {
    return this.client.delete(this.config.address)
  }

  /** Locks with `info`; remembers the id and the exact bytes only on 200. */
  async lock(info: GoLockInfo): Promise<LockOutcome> {
    this.lockId = ''
    const json = marshalLockInfo(info)
    const response = await this.client.send(this.config.lockMethod, this.config.lockAddress, json)
    if (response.status === 200) {
      this.lockId = info.ID
      this.jsonLockInfo = json
      return { response, id: info.ID }
    }
    if (response.status === 409 || response.status === 423) {
      try {
        return { response, holder: parseGoJson(response.body) }
      } catch (err) {
        if (err instanceof GoJsonError) return { response, decodeError: err }
        throw err
      }
    }
    return { response }
  }

  /** Unlocks `id` with the remembered LockInfo; a fresh client sends Terraform's empty body or OpenTofu's ID-only body. */
  async unlock(id: string): Promise<GoResponse> {
    const body = this.jsonLockInfo ?? (this.client.style === 'opentofu' ? marshalLockInfo({ ID: id }) : Buffer.alloc(0))
    return this.client.send(this.config.unlockMethod, this.config.unlockAddress, body)
  }
}

/**
 * A state file as the clients write it (statefile.Write): pretty-printed with
 * a 2-space indent and a trailing newline. `extra` adds or replaces top-level keys.
 */
export function stateFile(serial: number, lineage = 'stub-lineage', extra: Record<string, unknown> = {}): Buffer {
  const doc = {
    version: 4,
    terraform_version: '1.9.0',
    serial,
    lineage,
    outputs: { foo: { value: 'bar', type: 'string' } },
    resources: [
      {
        mode: 'managed',
        type: 'null_resource',
        name: 'foo',
        provider: 'provider["registry.terraform.io/hashicorp/null"]',
        instances: [
          { schema_version: 0, attributes: { id: `id-${serial}`, triggers: null }, sensitive_attributes: [] },
        ],
      },
    ],
    check_results: null,
    ...extra,
  }
  return Buffer.from(`${JSON.stringify(doc, null, 2)}\n`)
}
