import t from 'tap'
import { sql } from 'kysely'
import { casesListQuery, findCaseInReach, caseInReachQuery, listCases } from '../../src/cases/cases.repository.ts'
import type { Caller } from '../../src/kernel/auth.ts'
import { CompiledQueries } from '../../src/kernel/compiled-queries.ts'
import { StatementNames } from '../../src/kernel/db.ts'
import { publishChanges } from '../../src/kernel/outbox.ts'
import { sequencePendingChanges } from '../../src/kernel/sequencer.ts'
import { buildTestApp, type Identity } from '../helpers/app.ts'
import { expectEvery, expectStatus } from '../helpers/expect.ts'
import { caseBody, createCase, recordingBody } from '../helpers/fixtures.ts'
import { testDatabaseUrl } from '../helpers/database.ts'

/**
 * On PostgreSQL the statements the service sends again and again run as named (prepared)
 * statements: parsed and planned once per connection (db.ts, StatementNames).
 */

t.test('a text is named from its third sighting on, keeps its name, and names are bounded', async (t) => {
  const names = new StatementNames(3, 2)
  t.same([names.nameOf('select 1'), names.nameOf('select 1')], [undefined, undefined], 'not before it has come back')
  const first = names.nameOf('select 1')
  t.ok(first)
  t.equal(names.nameOf('select 1'), first, 'the same text keeps its name')
  for (let i = 0; i < 3; i++) names.nameOf('select 2')
  const second = names.nameOf('select 2')
  t.ok(second)
  t.not(second, first, 'another text, another name')
  for (let i = 0; i < 5; i++) t.equal(names.nameOf('select 3'), undefined, 'past the bound, texts run unnamed')
  t.equal(names.nameOf('select 1'), first, 'named ones keep their names')
})

t.test('hot statements are prepared on the connection and answer as before', async (t) => {
  const { injectAs, db } = await buildTestApp(t)
  const created = await injectAs('supervisor', {
    method: 'POST',
    url: '/v1/cases',
    payload: caseBody({ occurred_at: new Date(Date.now() - 3600_000).toISOString() }),
  })
  expectStatus(t, created, 201)
  const id = created.json().id as string
  // One after the other: the pool hands the same idle connection back each time.
  const reads: Array<Awaited<ReturnType<typeof injectAs>>> = []
  for (let i = 0; i < 6; i++) reads.push(await injectAs('supervisor', { method: 'GET', url: `/v1/cases/${id}` }))
  expectEvery(t, reads, (r) => r.statusCode === 200 && r.json().id === id && r.body === reads[0]!.body, 'every read answers the same')

  const prepared = await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(db)
  const caseRead = prepared.rows.find((p) => p.name.startsWith('madoguchi_') && p.statement.includes('from "cases"'))
  if (!testDatabaseUrl) {
    t.equal(caseRead, undefined, 'the embedded database runs every statement as it comes')
    return
  }
  t.ok(caseRead, 'the case read is a named statement on the connection')
})

t.test('queries compiled once answer every caller with their own reach', async (t) => {
  const { injectAs, db, orgUnit } = await buildTestApp(t)
  const [east, west] = [await orgUnit('east'), await orgUnit('west')]
  const supEast: Identity = { roles: ['supervisor'], unit: east, sub: 'sup-east' }
  const supWest: Identity = { roles: ['supervisor'], unit: west, sub: 'sup-west' }
  const staffWest: Identity = { roles: ['staff'], unit: west, sub: 'staff-west' }
  const created = await injectAs(supEast, { method: 'POST', url: '/v1/cases', payload: caseBody({ severity: 'high' }) })
  expectStatus(t, created, 201)
  const id = created.json().id as string
  // Interleaved and repeated, so every shape is compiled by one caller and reused by the others.
  const expected: Array<[Identity, number]> = [
    [supEast, 200],
    [supWest, 404],
    [staffWest, 404],
    [supEast, 200],
  ]
  for (let round = 0; round < 2; round++) {
    for (const [who, status] of expected) {
      expectStatus(t, await injectAs(who, { method: 'GET', url: `/v1/cases/${id}` }), status, `case, round ${round}`)
      expectStatus(t, await injectAs(who, { method: 'GET', url: `/v1/cases/${id}/timeline` }), status, `timeline, round ${round}`)
      const list = await injectAs(who, { method: 'GET', url: '/v1/cases?severity=high&limit=20' })
      const ids = (list.json().items as Array<{ id: string }>).map((c) => c.id)
      t.equal(ids.includes(id), status === 200, `list, round ${round}`)
      const note = { type: 'note', occurred_at: new Date().toISOString(), description: 'メモ' }
      expectStatus(
        t,
        await injectAs(who, { method: 'POST', url: `/v1/cases/${id}/events`, payload: note }),
        status === 200 ? 201 : 404,
        `append, round ${round}`,
      )
    }
  }

  // The compiled statements give the rows the query built on each call gives.
  const caller = (sub: string, orgUnit: string | null): Caller => ({ subject: sub, name: null, roles: [], orgUnit, familyName: null, businessName: null })
  for (const [reach, who] of [
    ['unit', caller('sup-east', east)],
    ['unit', caller('sup-west', west)],
    ['unit', caller('nobody', null)],
    ['own', caller('sup-east', east)],
    ['all', caller('x', null)],
  ] as const) {
    const built = await caseInReachQuery(db, id, reach, who, { personalReach: 'own' }).executeTakeFirst()
    t.same(await findCaseInReach(db, id, reach, who, { personalReach: 'own' }), built, `case, ${reach} ${who.subject}`)
    const filters = { severity: 'high' as const, text: '%_' }
    const listed = await casesListQuery(db, reach, who, filters, 5, null).execute()
    t.same(await listCases(db, reach, who, filters, 5, null), listed, `list, ${reach} ${who.subject}`)
  }

  // A value written into a compiled query would answer every later caller: compiling refuses it.
  const queries = new CompiledQueries('test')
  await t.rejects(
    queries.execute(db, 'baked', { id }, () => db.selectFrom('cases').select('id').where('id', '=', id)),
    /parameter \$1 is not one of the values/,
  )
})

t.test('a registration compiled once writes each caller their own recording, in their own reach', async (t) => {
  const test = await buildTestApp(t)
  const { injectAs, db, orgUnit } = test
  const [east, west] = [await orgUnit('east'), await orgUnit('west')]
  const staffEast: Identity = { roles: ['staff'], unit: east, sub: 'rec-staff-east', name: '東 太郎' }
  const staffWest: Identity = { roles: ['staff'], unit: west, sub: 'rec-staff-west', name: '西 花子' }
  const supWest: Identity = { roles: ['supervisor'], unit: west, sub: 'rec-sup-west', name: '北 次郎' }
  const kase = await createCase(test, staffEast)
  const post = (who: Identity, extra: Record<string, unknown>, headers: Record<string, string> = {}) =>
    injectAs(who, { method: 'POST', url: '/v1/recordings', headers, payload: recordingBody(extra) })
  const written: Array<{ id: string; who: Identity; unit: string; caseId: string | null; storageUri: string }> = []
  const register = async (who: Identity, unit: string, caseId: string | null, label: string, headers: Record<string, string> = {}) => {
    const body = recordingBody({ recorder: who.sub, ...(caseId ? { case_id: caseId } : {}) })
    const res = await injectAs(who, { method: 'POST', url: '/v1/recordings', headers, payload: body })
    expectStatus(t, res, 201, label)
    const rec = res.json()
    t.match(rec, { org_unit_id: unit, case_id: caseId, registered_by: { id: who.sub }, recorder: { id: who.sub } }, label)
    // Only the supervisor has media access (their unit's recordings): the media reach is the caller's too.
    t.equal(rec.redacted, who !== supWest, `${label}: media seen only with media access`)
    written.push({ id: rec.id, who, unit, caseId, storageUri: body.storage_uri as string })
  }
  // Interleaved and repeated, so every shape is compiled by one caller and reused by the others.
  for (let round = 0; round < 2; round++) {
    await register(staffEast, east, kase.id, `responder's, round ${round}`)
    const outOfReach = await post(staffWest, { case_id: kase.id, recorder: staffWest.sub })
    expectStatus(t, outOfReach, 422, `a case out of reach, round ${round}`)
    t.match(outOfReach.json(), { errors: [{ pointer: 'body/case_id' }] })
    const otherUnit = await post(staffEast, { case_id: kase.id, org_unit_id: west })
    expectStatus(t, otherUnit, 422, `not the case's unit, round ${round}`)
    t.match(otherUnit.json(), { errors: [{ pointer: 'body/org_unit_id' }] })
    await register(staffWest, west, null, `own unit, round ${round}`)
    expectStatus(t, await post(staffWest, { org_unit_id: east }), 403, `a unit out of reach, round ${round}`)
    await register(supWest, west, null, `supervisor's, round ${round}`)
    // With an Idempotency-Key the same shape without the written CTEs, in a transaction.
    const key = { 'idempotency-key': `compiled-${round}` }
    await register(staffWest, west, null, `idempotent, round ${round}`, key)
  }

  const ids = written.map((w) => w.id)
  const columns = ['id', 'registered_by', 'recorder', 'org_unit_id', 'case_id', 'storage_uri'] as const
  const rows = new Map((await db.selectFrom('recordings').select(columns).where('id', 'in', ids).execute()).map((r) => [r.id, r]))
  const audited = await db.selectFrom('audit_events').select(['subject', 'resource_id']).where('resource_id', 'in', ids).where('status', '=', 201).execute()
  for (const w of written) {
    const expected = { registered_by: w.who.sub, recorder: w.who.sub, org_unit_id: w.unit, case_id: w.caseId, storage_uri: w.storageUri }
    t.match(rows.get(w.id), expected, `stored as ${w.who.sub} sent it`)
    t.same(
      audited.filter((a) => a.resource_id === w.id),
      [{ subject: w.who.sub, resource_id: w.id }],
      `audited as ${w.who.sub}'s`,
    )
  }
  const profiles = await db.selectFrom('staff_profiles').select(['subject', 'full_name']).where('subject', 'like', 'rec-%').orderBy('subject').execute()
  const remembered = [staffEast, staffWest, supWest].map((who) => ({ subject: who.sub, full_name: who.name }))
  t.same(profiles, remembered, 'each writer remembered with their own name')
})

t.test('a creation compiled once opens each caller their own case, numbered without gaps, in their own reach', async (t) => {
  const { injectAs, db, orgUnit } = await buildTestApp(t)
  const [east, west] = [await orgUnit('east'), await orgUnit('west')]
  const staffEast: Identity = { roles: ['staff'], unit: east, sub: 'open-staff-east', name: '東 太郎', businessName: '東' }
  const staffWest: Identity = { roles: ['staff'], unit: west, sub: 'open-staff-west', name: '西 花子', businessName: '西' }
  const supWest: Identity = { roles: ['supervisor'], unit: west, sub: 'open-sup-west', name: '北 次郎', businessName: '北' }
  const desk: Identity = { roles: ['desk'], unit: east, sub: 'open-desk', name: '南 三郎', businessName: '南' }
  type Opened = { id: string; number: string; who: Identity; unit: string; responders: string[]; customer: boolean; escalated: boolean; shortfall: boolean }
  const opened: Opened[] = []
  const open = async (who: Identity, unit: string, others: string[], customer: boolean, escalated: boolean, label: string) => {
    const summary = `${label}: ${who.sub}`
    const body = caseBody({
      org_unit_id: unit,
      summary,
      responders: others,
      categories: escalated ? ['violence'] : ['verbal_abuse'],
      ...(customer ? { customer: { name: `${label} の相手方`, phone: '03-0000-0000' } } : {}),
    })
    const res = await injectAs(who, { method: 'POST', url: '/v1/cases', payload: body })
    expectStatus(t, res, 201, label)
    const kase = res.json()
    // Everyone here may respond, so the creator is a responder too.
    const responders = [...new Set([who.sub!, ...others])].sort()
    t.match(kase, { org_unit_id: unit, summary, created_by: { id: who.sub }, status: escalated ? 'escalated' : 'open' }, label)
    t.same((kase.responders as Array<{ id: string }>).map((r) => r.id).sort(), responders, `${label}: own responders`)
    t.same(kase.customer, customer ? { name: `${label} の相手方`, address: null, phone: '03-0000-0000', email: null } : null, `${label}: own customer`)
    opened.push({ id: kase.id, number: kase.number, who, unit, responders, customer, escalated, shortfall: kase.responder_shortfall !== null })
    return kase as { responders: Array<{ id: string; display_name: string }> }
  }
  // Interleaved and repeated, so every shape is compiled by one caller and reused by the others,
  // with a number of responders that changes from one request to the next.
  for (let round = 0; round < 2; round++) {
    await open(staffEast, east, [], true, false, `staff, customer, round ${round}`)
    await open(supWest, west, round === 0 ? [staffWest.sub!] : [staffWest.sub!, 'open-colleague'], false, false, `supervisor, round ${round}`)
    expectStatus(
      t,
      await injectAs(staffWest, { method: 'POST', url: '/v1/cases', payload: caseBody({ org_unit_id: east }) }),
      403,
      `staff elsewhere, round ${round}`,
    )
    const named = await open(staffWest, west, round === 0 ? [supWest.sub!, 'open-colleague', 'open-other'] : [], true, false, `staff west, round ${round}`)
    if (round === 0) {
      const shown = new Map(named.responders.map((r) => [r.id, r.display_name]))
      t.not(shown.get(supWest.sub!), supWest.sub, 'a responder the service knows is shown by name')
      t.equal(shown.get('open-other'), 'open-other', 'one it does not know by their id')
    }
    expectStatus(
      t,
      await injectAs(supWest, { method: 'POST', url: '/v1/cases', payload: caseBody({ org_unit_id: east }) }),
      403,
      `unit out of reach, round ${round}`,
    )
    // Escalated at once, alone (a shortfall: the transaction path) and with a colleague.
    await open(staffEast, east, [], false, true, `escalated alone, round ${round}`)
    await open(desk, west, [staffWest.sub!], round === 1, true, `desk elsewhere, escalated, round ${round}`)
  }

  // Refusals draw no number: the numbers are the creations', consecutive from the year's first.
  const numbers = (await db.selectFrom('cases').select('number').orderBy('number').execute()).map((r) => r.number)
  const year = opened[0]!.number.slice(0, 4)
  t.same(
    numbers,
    opened.map((_, i) => `${year}-${String(i + 1).padStart(6, '0')}`),
    'numbers consecutive, without gaps',
  )
  t.same(
    opened.map((o) => o.number),
    numbers,
    'in the order the cases were created',
  )
  t.ok(opened.some((o) => o.shortfall) && opened.some((o) => !o.shortfall), 'with and without a responder shortfall')

  const ids = opened.map((o) => o.id)
  const rows = new Map((await db.selectFrom('cases').select(['id', 'created_by', 'org_unit_id', 'status']).execute()).map((r) => [r.id, r]))
  const responders = await db.selectFrom('case_responders').select(['case_id', 'subject', 'added_by']).orderBy('subject').execute()
  const customers = await db.selectFrom('case_customers').select(['case_id', 'name']).execute()
  const escalations = await db.selectFrom('case_events').select('case_id').where('type', '=', 'escalation').execute()
  const statistics = await db.selectFrom('case_statistics').select(['case_id', 'responder_shortfall_seen']).execute()
  const audited = await db.selectFrom('audit_events').select(['subject', 'resource_id']).where('resource_id', 'in', ids).where('status', '=', 201).execute()
  const changes = await db.selectFrom('changes').select(['resource_id', 'kind', 'org_unit_id', 'data']).orderBy('id').execute()
  for (const o of opened) {
    const label = `${o.number} (${o.who.sub})`
    t.match(rows.get(o.id), { created_by: o.who.sub, org_unit_id: o.unit, status: o.escalated ? 'escalated' : 'open' }, `${label}: stored as sent`)
    const own = responders.filter((r) => r.case_id === o.id)
    t.same(
      own.map((r) => r.subject),
      o.responders,
      `${label}: own responders stored`,
    )
    t.ok(
      own.every((r) => r.added_by === o.who.sub),
      `${label}: added by the creator`,
    )
    t.equal(customers.filter((c) => c.case_id === o.id).length, o.customer ? 1 : 0, `${label}: customer stored only when given`)
    t.equal(escalations.filter((e) => e.case_id === o.id).length, o.escalated ? 1 : 0, `${label}: escalation event only when escalated`)
    t.same(
      statistics.filter((s) => s.case_id === o.id).map((s) => s.responder_shortfall_seen),
      [o.shortfall],
      `${label}: shortfall noted as answered`,
    )
    t.same(
      audited.filter((a) => a.resource_id === o.id),
      [{ subject: o.who.sub, resource_id: o.id }],
      `${label}: audited as its creator's`,
    )
    const kinds = o.escalated ? ['case.created', 'case.escalated'] : ['case.created']
    t.match(
      changes.filter((c) => c.resource_id === o.id),
      kinds.map((kind) => ({ kind, org_unit_id: o.unit, data: { number: o.number } })),
      `${label}: own changes, in order`,
    )
    t.equal(changes.filter((c) => c.resource_id === o.id).length, kinds.length, `${label}: no other change`)
  }
  const profiles = await db.selectFrom('staff_profiles').select(['subject', 'full_name']).where('subject', 'like', 'open-%').orderBy('subject').execute()
  const remembered = [desk, staffEast, staffWest, supWest]
    .map((who) => ({ subject: who.sub, full_name: who.name }))
    .sort((a, b) => a.subject!.localeCompare(b.subject!))
  t.same(profiles, remembered, 'each writer remembered with their own name')
})

t.test('a background job plans its statements for the tables as they are now, never with a plan cached while they were small', async (t) => {
  const { db } = await buildTestApp(t)
  // One connection for every round, so that its prepared statements can be read.
  await db.connection().execute(async (connection) => {
    // Rounds on an empty feed: the sequencer's statement is named from its third round on, and
    // PostgreSQL would switch to a generic plan after five executions.
    for (let i = 0; i < 8; i++) await sequencePendingChanges(connection)
    const change = { kind: 'case.created', resourceType: 'case', resourceId: 'c-1', orgUnitId: null }
    await publishChanges(connection, [change, change, change])
    t.equal(await sequencePendingChanges(connection), 3, 'the round numbers what committed meanwhile')
    const setting = await sql<{ mode: string }>`select current_setting('plan_cache_mode') as mode`.execute(connection)
    t.equal(setting.rows[0]?.mode, 'auto', "the job's setting ends with its transaction: requests keep their cached plans")
    const prepared = await sql<{ statement: string; generic_plans: string; custom_plans: string }>`
      select statement, generic_plans, custom_plans from pg_prepared_statements where name like 'madoguchi_%'`.execute(connection)
    const numbering = prepared.rows.find((p) => p.statement.includes('with head as'))
    if (!testDatabaseUrl) {
      t.equal(numbering, undefined, 'the embedded database runs every statement as it comes')
      return
    }
    t.ok(numbering, "the sequencer's statement is prepared on the connection")
    t.equal(Number(numbering?.generic_plans), 0, 'never run with a generic plan')
    t.ok(Number(numbering?.custom_plans) >= 6, 'planned at each round')
  })
})
