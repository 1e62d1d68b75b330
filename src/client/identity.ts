/**
 * Who the client says it is when it takes a lock: the CI job's URL where the
 * CI tells it (GitHub Actions, GitLab CI), else user@host. The server records
 * it next to the authenticated principal, so an operator who finds a lock
 * knows which job or person to ask.
 */
import { hostname, userInfo } from 'node:os'

/** The default `who` of a lock, from the environment. */
export function defaultWho(env: NodeJS.ProcessEnv): string {
  if (env.GITHUB_ACTIONS === 'true' && env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID) {
    const server = env.GITHUB_SERVER_URL ?? 'https://github.com'
    const attempt = env.GITHUB_RUN_ATTEMPT ? `/attempts/${env.GITHUB_RUN_ATTEMPT}` : ''
    return `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}${attempt}`
  }
  if (env.GITLAB_CI === 'true' && env.CI_JOB_URL) return env.CI_JOB_URL
  let user = env.USER ?? env.LOGNAME
  if (user === undefined) {
    try {
      user = userInfo().username
    } catch {
      user = 'unknown'
    }
  }
  return `${user}@${hostname()}`
}
