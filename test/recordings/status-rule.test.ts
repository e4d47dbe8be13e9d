import { type Insertable, sql } from 'kysely'
import t from 'tap'
import { newId } from '../../src/kernel/ids.ts'
import { addDays, todayInTokyo } from '../../src/kernel/time.ts'
import { settledStatus } from '../../src/recordings/recordings.service.ts'
import type { RecordingsTable } from '../../src/recordings/recordings.tables.ts'
import { sweepRetention } from '../../src/recordings/retention-sweep.ts'
import { retentionStep } from '../../src/recordings/retention.ts'
import { buildTestApp, type Identity } from '../helpers/app.ts'
import { register, sha } from '../helpers/fixtures.ts'

/**
 * The recording-status rule is written in three places: `settledStatus` (requests settle a
 * recording after a classification or a hold changed), the retention sweep's two statements, and
 * the partial indexes those statements scan (migration 0007). `retentionStep` is the rule; this
 * test generates a recording for every combination of the columns the rule reads, and requires
 * the three to give the same answers on all of them, as chain-recipe.test.ts does for hashes.
 */
t.test('settledStatus, the sweep and its partial indexes agree on every combination', async (t) => {
  const test = await buildTestApp(t)
  const { db } = test
  const sup: Identity = { roles: ['supervisor'], unit: await test.orgUnit('status-rule'), sub: 'sup-rule' }
  const template = await db
    .selectFrom('recordings')
    .selectAll()
    .where('id', '=', (await register(test, sup)).id)
    .executeTakeFirstOrThrow()
  // A proposal for recordings that have one pending (the foreign key only needs it to exist).
  const proposal = newId()
  await db
    .insertInto('dispositions')
    .values({
      id: proposal,
      recording_id: template.id,
      action: 'dispose',
      status: 'proposed',
      reason: 'status rule test',
      proposed_by: 'rm-1',
      decided_by: null,
      decided_at: null,
      decision_reason: null,
      org_unit_id: template.org_unit_id,
      case_id: null,
      media_kind: template.media_kind,
      media_type: template.media_type,
      sha256: template.sha256,
      size_bytes: template.size_bytes,
      started_at: template.started_at,
      record_category: template.record_category,
      classification: template.classification,
      retention_policy_id: template.retention_policy_id,
      retention_rule: '{}',
      retention_start: template.retention_start,
      retention_end: template.retention_end,
      effective_end: template.retention_end,
    })
    .execute()

  const today = todayInTokyo()
  const ids: string[] = []
  const rows: Insertable<RecordingsTable>[] = []
  let n = 0
  for (const status of ['active', 'due', 'purged'] as const)
    for (const holdOpen of [false, true])
      for (const heldUntil of [null, addDays(today, -10), addDays(today, 10)])
        for (const retentionEnd of [addDays(today, -1), today, addDays(today, 1)])
          for (const administrative of [false, true])
            for (const personal of [false, true])
              for (const action of ['dispose', 'transfer', 'review'] as const)
                for (const pending of status === 'purged' ? [false] : [false, true]) {
                  n += 1
                  const id = newId()
                  ids.push(id)
                  const live = status !== 'purged'
                  const { effective_end: _generated, id: _id, created_at: _c, updated_at: _u, version: _v, ...copied } = template
                  rows.push({
                    ...copied,
                    id,
                    status,
                    storage_uri: live ? `s3://status-rule/${id}` : null,
                    sha256: sha(`status rule ${n}`),
                    description: live ? copied.description : null,
                    participants: live ? copied.participants : null,
                    caller_number: live ? copied.caller_number : null,
                    hold_open: holdOpen,
                    held_until: heldUntil,
                    retention_end: retentionEnd,
                    administrative_document: administrative,
                    personal_information: personal,
                    classification:
                      administrative && personal ? 'both' : administrative ? 'administrative_document' : personal ? 'personal_information' : 'neither',
                    retention_action: action,
                    pending_disposition_id: pending ? proposal : null,
                    disposition_id: live ? null : proposal,
                  })
                }
  for (let i = 0; i < rows.length; i += 200)
    await db
      .insertInto('recordings')
      .values(rows.slice(i, i + 200))
      .execute()

  const before = await db.selectFrom('recordings').selectAll().where('id', 'in', ids).execute()
  t.equal(before.length, n, `${n} generated recordings`)

  // What the rule says: the sweep purges active recordings it would purge that no proposal
  // concerns, and marks due the active ones that become due; everything else stays as it is.
  const expected = new Map(
    before.map((r) => {
      const step = retentionStep(r, today)
      if (r.status === 'active' && step === 'purge' && r.pending_disposition_id === null) return [r.id, 'purged']
      if (r.status === 'active' && step === 'due') return [r.id, 'due']
      return [r.id, r.status]
    }),
  )

  // settledStatus says the same for every live recording: due exactly when the rule says due.
  const disagreeing = before
    .filter((r) => r.status !== 'purged')
    .filter((r) => (settledStatus(r, today) === 'due') !== (retentionStep(r, today) === 'due'))
    .map((r) => ({ id: r.id, status: r.status, settled: settledStatus(r, today), step: retentionStep(r, today) }))
  t.same(disagreeing, [], 'settledStatus follows retentionStep')

  // The partial indexes hold exactly the recordings each statement takes, once their end has passed.
  const predicates = await sql<{ name: string; predicate: string }>`
    select c.relname as name, pg_get_expr(i.indpred, i.indrelid) as predicate
      from pg_index i join pg_class c on c.oid = i.indexrelid
     where c.relname in ('recordings_to_purge', 'recordings_to_mark_due')`.execute(db)
  t.equal(predicates.rows.length, 2, 'both partial indexes exist')
  for (const { name, predicate } of predicates.rows) {
    const inIndex = await sql<{ id: string }>`
      select id from recordings where ${sql.raw(predicate)} and effective_end < ${today}::date and id = any(${ids}::uuid[])`.execute(db)
    const wanted = name === 'recordings_to_purge' ? 'purged' : 'due'
    const byRule = before.filter((r) => r.status === 'active' && expected.get(r.id) === wanted).map((r) => r.id)
    t.same(inIndex.rows.map((r) => r.id).sort(), byRule.sort(), `${name} (${predicate}) holds what the rule ${wanted === 'purged' ? 'purges' : 'marks due'}`)
  }

  // The sweep does what the rule says, row by row.
  await sweepRetention(db, { today })
  const after = await db.selectFrom('recordings').select(['id', 'status']).where('id', 'in', ids).execute()
  const wrong = after
    .filter((r) => r.status !== expected.get(r.id))
    .map((r) => {
      const row = before.find((b) => b.id === r.id)!
      return {
        was: row.status,
        now: r.status,
        expected: expected.get(r.id),
        hold_open: row.hold_open,
        effective_end: row.effective_end,
        administrative_document: row.administrative_document,
        retention_action: row.retention_action,
        pending: row.pending_disposition_id !== null,
      }
    })
  t.same(wrong, [], 'the sweep follows retentionStep')
  const counts = { purged: 0, due: 0 }
  for (const r of after) {
    const was = before.find((b) => b.id === r.id)!.status
    if (r.status === 'purged' && was !== 'purged') counts.purged += 1
    if (r.status === 'due' && was !== 'due') counts.due += 1
  }
  t.ok(counts.purged > 0 && counts.due > 0, `the combinations include purges (${counts.purged}) and recordings marked due (${counts.due})`)
})
