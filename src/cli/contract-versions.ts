import { execFileSync } from 'node:child_process'
import { apiCompare } from 'api-smart-diff'

/**
 * Breaking changes of the contract within its version (see src/cli/openapi.ts): the generated
 * document against the first committed contract of the same info.version.
 */
interface Versioned {
  info: { version: string }
}

/** The changes api-smart-diff classifies as breaking, from `before` to `after`, one line each. */
export function breakingChangesBetween(before: object, after: object): string[] {
  const { diffs } = apiCompare(before, after)
  return diffs.filter((d) => d.type === 'breaking').map((d) => `${d.path.join('/')}: ${d.description ?? d.action}`)
}

/** The first committed contract of `version` in git's first-parent history of `file`, or null. */
function baselineOf(root: string, file: string, version: string): { commit: string; document: Versioned } | null {
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] })
  let commits: string[]
  try {
    commits = git('log', '--first-parent', '--format=%H', '--', file).split('\n').filter(Boolean)
  } catch {
    return null // not a git checkout: nothing to compare with
  }
  let baseline: { commit: string; document: Versioned } | null = null
  for (const commit of commits) {
    const document = JSON.parse(git('show', `${commit}:${file}`)) as Versioned
    if (document.info.version !== version) break
    baseline = { commit, document }
  }
  return baseline
}

/** Breaking changes of `document` against the first committed contract of its version; null when there is none. */
export function breakingChanges(root: string, file: string, document: string): { baseline: string; changes: string[] } | null {
  const current = JSON.parse(document) as Versioned
  const baseline = baselineOf(root, file, current.info.version)
  if (!baseline) return null
  return { baseline: `${baseline.commit.slice(0, 12)} (version ${current.info.version})`, changes: breakingChangesBetween(baseline.document, current) }
}
