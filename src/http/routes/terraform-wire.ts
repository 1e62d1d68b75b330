/**
 * What the Terraform state routes and the Terraform lock routes share: their
 * path, their OpenAPI tag, and the Content-MD5 check both clients' bodies get.
 */
import { createHash } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { StateError } from '../../errors.js'

/** The Terraform-compatible address of a stack (the `address` of a `backend "http"` block). */
export const TERRAFORM_PATH = '/v1/factories/:factory/stacks/:stack/terraform'
/** The OpenAPI tag of every Terraform route. */
export const TERRAFORM_TAGS = ['terraform']

/** Checks Content-MD5 when sent (400 on mismatch, never required); returns the raw body. */
export function checkContentMd5(request: FastifyRequest): Buffer {
  const body = request.rawBody ?? Buffer.alloc(0)
  const sent = request.headers['content-md5']
  if (typeof sent === 'string' && sent !== '') {
    const actual = createHash('md5').update(body).digest('base64')
    if (sent.trim() !== actual)
      throw new StateError(
        'content-md5-mismatch',
        `Content-MD5 ${sent} does not match the body (${actual}): the body was altered in transit; nothing was changed`,
      )
  }
  return body
}
