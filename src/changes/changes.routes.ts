import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { auditNow } from '../kernel/unit-of-work.plugin.ts'
import { ChangePageSchema, ChangeQuerySchema, MAX_WAIT_SECONDS, type ChangePage } from './changes.schemas.ts'
import { feedHead, readChanges, type FeedScope } from './changes.repository.ts'
import { sequencePendingChanges } from '../kernel/sequencer.ts'

// How often a long poll looks again. State lives in the database only, so any instance can
// answer any poll; no LISTEN/NOTIFY needed.
const POLL_INTERVAL_MS = 250

/** The change feed (`changes`): committed domain changes in commit order, for integrating systems. */
const changeRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Long polls end at once when the service shuts down, so a stop never waits 30 s for them.
  const closing = new AbortController()
  app.addHook('preClose', async () => closing.abort())

  app.get('', {
    // No request transaction: a long poll must not hold one (the embedded database has a single
    // connection) and each look is its own snapshot. The audit entry is written by auditNow.
    config: { permission: 'changes:read', transaction: false },
    schema: {
      operationId: 'listChanges',
      summary: 'Read the change feed after a position (long poll with wait)',
      description:
        'Changes in commit order, numbered 1, 2, 3, … without gaps. Pass the `next_after` of a page as `after` to read on: ' +
        'a consumer that does so sees every change exactly once, in order, however many transactions commit concurrently. ' +
        'Changes of one record appear in the order they were made. Integration clients see their org unit and the units ' +
        'below it, plus organisation-wide changes (policies). Items carry ids and kinds, never personal data.',
      tags: ['changes'],
      querystring: ChangeQuerySchema,
      response: { 200: ChangePageSchema },
    },
    handler: async (request, reply) => {
      // The wait ends early when the service shuts down or the client goes away.
      const gone = new AbortController()
      reply.raw.once('close', () => gone.abort())
      const stop = AbortSignal.any([closing.signal, gone.signal])
      const after = request.query.after ?? 0
      const limit = request.query.limit ?? 100
      const waitMs = Math.min(request.query.wait ?? 0, MAX_WAIT_SECONDS) * 1000
      const scope = scopeOf(request)
      const deadline = Date.now() + waitMs

      let page = await readPage(request, after, limit, scope)
      // Nothing for this reader yet: look again until the wait is over. Changes outside the
      // reader's scope move the resume position on, so the page answered still says how far
      // the reader has been shown everything.
      while (page.items.length === 0 && Date.now() < deadline && !stop.aborted) {
        await sleep(Math.min(POLL_INTERVAL_MS, deadline - Date.now()), stop)
        page = await readPage(request, page.next_after, limit, scope)
      }
      request.ctx.audit.details = { after, count: page.items.length, next_after: page.next_after, waited: waitMs > 0 }
      await auditNow(request)
      return page
    },
  })
}

async function readPage(request: FastifyRequest, after: number, limit: number, scope: FeedScope): Promise<ChangePage> {
  const db = request.server.db
  // Number whatever has committed since the sequencer's last round, so a reader never waits for
  // the background interval (a no-op when another instance is doing it right now).
  await sequencePendingChanges(db)
  const head = await feedHead(db)
  const items = await readChanges(db, { after, upTo: head, limit, scope })
  // A short page means nothing else within the reader's scope up to the head: resume from it.
  const nextAfter = items.length === limit ? items[items.length - 1]!.position : Math.max(after, head)
  return { items, next_after: nextAfter, head }
}

function scopeOf(request: FastifyRequest): FeedScope {
  const { reach, caller } = request.ctx
  return reach === 'all' ? { kind: 'all' } : { kind: 'unit', unitId: caller.orgUnit }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, Math.max(0, ms))
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}

export default changeRoutes
