import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose'
import t from 'tap'
import { todayInTokyo } from '../../src/kernel/time.ts'
import { startTestServer, type Identity } from '../helpers/app.ts'
import { validCase, validRecording } from '../helpers/fixtures.ts'
import { expectSome, expectStatus } from '../helpers/expect.ts'
import { databaseIndependent } from '../helpers/database.ts'

/**
 * The recordings flow through the SDK generated from the contract: registration, classification,
 * a disclosure hold with its decision, the retention explanation, two-person disposition, the
 * permanent record, and a media grant verified against the published JWKS.
 */
t.test('recordings and retention through the generated client', { skip: databaseIndependent }, async (t) => {
  const server = await startTestServer(t)
  const unit = await server.orgUnit('shiminka')
  const staff: Identity = { roles: ['staff'], unit, sub: 'staff-e', name: '山田 太郎' }
  const desk: Identity = { roles: ['desk'], sub: 'desk-e', name: '田中 次郎' }
  const rmA: Identity = { roles: ['records_manager'], sub: 'rm-a', name: '青木 一' }
  const rmB: Identity = { roles: ['records_manager'], sub: 'rm-b', name: '伊藤 二' }
  const [s, d, a, b, aud] = await Promise.all([staff, desk, rmA, rmB, { roles: ['auditor' as const], sub: 'aud-e' }].map((who) => server.client(who)))

  const kase = await s!.POST('/v1/cases', {
    body: validCase({ channel: 'counter', occurred_at: new Date(Date.now() - 3600_000).toISOString(), summary: '窓口で大声' }),
  })
  const registered = await s!.POST('/v1/recordings', {
    body: validRecording({ case_id: kase.data!.id, source: 'staff_device', notice: { given: false } }),
  })
  expectStatus(t, registered, 201)
  const rec = registered.data!
  t.match(rec, { notice_missing: true, redacted: true, storage_uri: null, classification: { key: 'both', provisional: true } })

  const classified = await a!.PUT('/v1/recordings/{id}/classification', {
    params: { path: { id: rec.id } },
    body: { administrative_document: true, personal_information: true, record_category: 'case_recording', reason: '事案対応に用いた録音' },
  })
  t.equal(classified.data?.classification.provisional, false)
  t.equal(classified.data?.classification.classified_by.display_name, '青木')

  const hold = await d!.POST('/v1/recordings/{id}/holds', {
    params: { path: { id: rec.id } },
    body: { type: 'disclosure_request', reference: '開示請求 第1号' },
  })
  expectStatus(t, hold, 201)
  const decided = await d!.POST('/v1/recordings/{id}/holds/{holdId}/decision', {
    params: { path: { id: rec.id, holdId: hold.data!.id } },
    body: { decision_date: todayInTokyo() },
  })
  t.ok(decided.data?.until && decided.data.until > todayInTokyo())
  const why = await aud!.GET('/v1/recordings/{id}/retention', { params: { path: { id: rec.id } } })
  t.equal(why.data?.holds[0]?.id, hold.data!.id)
  t.equal(why.data?.next.step, 'disposal_due')
  t.ok(why.data!.explanation.length >= 5)

  // An old case recording whose retention ended long ago: two records managers dispose of it.
  const old = await a!.POST('/v1/recordings', {
    body: validRecording({ case_id: kase.data!.id, started_at: '2015-06-01T10:00:00+09:00', ended_at: '2015-06-01T10:30:00+09:00' }),
  })
  t.equal(old.data?.status, 'due')
  const due = await a!.GET('/v1/dispositions/due', { params: { query: { action: 'dispose' } } })
  expectSome(t, due.data?.items, (i) => i.recording_id === old.data!.id)
  const proposed = await a!.POST('/v1/recordings/{id}/disposition', {
    params: { path: { id: old.data!.id } },
    body: { action: 'dispose', reason: '保存期間満了' },
  })
  expectStatus(t, proposed, 201)
  const self = await a!.POST('/v1/dispositions/{id}/approve', { params: { path: { id: proposed.data!.id } }, body: {} })
  expectStatus(t, self, 403)
  t.equal(self.error?.code, 'forbidden')
  const approved = await b!.POST('/v1/dispositions/{id}/approve', { params: { path: { id: proposed.data!.id } }, body: {} })
  t.equal(approved.data?.status, 'executed')
  const records = await aud!.GET('/v1/dispositions', { params: { query: { status: 'executed' } } })
  t.match(records.data?.items, [{ id: proposed.data!.id, proposed_by: { id: 'rm-a' }, decided_by: { id: 'rm-b' }, recording: { sha256: old.data!.sha256 } }])

  // Media access: the desk gets a grant; the media server verifies it with the JWKS.
  const grant = await d!.POST('/v1/recordings/{id}/access-grants', { params: { path: { id: rec.id } }, body: { purpose: 'disclosure_request' } })
  expectStatus(t, grant, 201)
  const jwks = (await fetch(`${server.baseUrl}/.well-known/jwks.json`).then((r) => r.json())) as JSONWebKeySet
  const { payload } = await jwtVerify(grant.data!.token, createLocalJWKSet(jwks), { issuer: 'madoguchi', audience: 'madoguchi-media', typ: 'media-grant+jwt' })
  t.match(payload, { sub: 'desk-e', recording_id: rec.id })
  const refused = await s!.POST('/v1/recordings/{id}/access-grants', { params: { path: { id: rec.id } }, body: {} })
  expectStatus(t, refused, 403, 'staff get no grant')
})
