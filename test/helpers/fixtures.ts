import crypto from 'node:crypto'
import type { Schema } from '@madoguchi/sdk'
import type { Db } from '../../src/kernel/db.ts'
import type { RetentionRule } from '../../src/policies/policies.schemas.ts'
import { retentionEnd } from '../../src/recordings/retention.ts'
import type { TestApp, Identity } from '../helpers/app.ts'

/**
 * Request bodies that tests share, one builder per body (override any field with `extra`), and
 * the records they create; dates around today.
 */
export const sha = (seed: string) => crypto.createHash('sha256').update(seed).digest('hex')
let counter = 0

/** POST /v1/cases: a phone case of moderate severity, an hour ago; typed as the contract has it (for calls through the SDK). */
export function validCase(extra: Partial<Schema<'CreateCase'>> = {}): Schema<'CreateCase'> {
  return {
    channel: 'phone',
    occurred_at: new Date(Date.now() - 60 * 60_000).toISOString(),
    categories: ['verbal_abuse'],
    severity: 'medium',
    summary: '電話で長時間の威圧的な発言',
    ...extra,
  }
}

/** A case body with fields replaced or added, invalid ones too (for the tests that send them). */
export function caseBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...validCase(), ...extra }
}

/**
 * POST /v1/recordings: a phone-system recording an hour ago, with notice given; typed as the
 * contract has it (for calls through the SDK).
 */
export function validRecording(extra: Partial<Schema<'CreateRecording'>> = {}): Schema<'CreateRecording'> {
  counter += 1
  const started = extra.started_at ?? new Date(Date.now() - 60 * 60_000).toISOString()
  return {
    media_kind: 'audio',
    source: 'phone_system',
    recorded_by: 'organisation',
    started_at: started,
    ended_at: new Date(new Date(started).getTime() + 10 * 60_000).toISOString(),
    storage_uri: `s3://city-media/recordings/${process.pid}-${counter}-${crypto.randomUUID()}.m4a`,
    sha256: sha(`media ${counter} ${crypto.randomUUID()}`),
    size_bytes: 1_234_567,
    media_type: 'audio/mp4',
    notice: { given: true, method: 'automated_message', at: started },
    title: '電話応対 録音',
    description: '顧客 一郎 様からの電話。大声で職員を威圧',
    participants: ['顧客 一郎', '職員 山田'],
    caller_number: '03-1234-5678',
    ...extra,
  }
}

/** A registration with fields replaced or added, invalid ones too (for the tests that send them). */
export function recordingBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...validRecording(typeof extra.started_at === 'string' ? { started_at: extra.started_at } : {}), ...extra }
}

export async function createCase(test: TestApp, who: Identity, extra: Record<string, unknown> = {}): Promise<{ id: string; org_unit_id: string }> {
  const res = await test.injectAs(who, {
    method: 'POST',
    url: '/v1/cases',
    payload: caseBody({ occurred_at: new Date(Date.now() - 2 * 3600_000).toISOString(), ...extra }),
  })
  if (res.statusCode !== 201) throw new Error(`case: ${res.statusCode} ${res.body}`)
  return res.json()
}

export async function register(test: TestApp, who: Identity | Parameters<TestApp['injectAs']>[0], extra: Record<string, unknown> = {}) {
  const res = await test.injectAs(who, { method: 'POST', url: '/v1/recordings', payload: recordingBody(extra) })
  if (res.statusCode !== 201) throw new Error(`register: ${res.statusCode} ${res.body}`)
  return res.json()
}

/** POST /v1/incidents: a recording mailed to the wrong address, discovered an hour ago; no reporting facts. */
export function incidentBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: 'leak',
    summary: '窓口応対の録音データを誤った宛先にメール送信した',
    discovery: '受信者からの電話連絡で判明',
    aware_at: new Date(Date.now() - 60 * 60_000).toISOString(),
    data_items: ['氏名', '音声'],
    persons_affected: 1,
    persons_affected_basis: 'confirmed',
    ...extra,
  }
}

/** A Tokyo instant on a Tokyo date, e.g. at('2025-03-31', '23:30'). */
export const at = (date: string, time = '10:00') => `${date}T${time}:00+09:00`

export const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString()

/** POST /v1/disclosure-requests: a resident asks for the recording of their own call (保有個人情報開示請求). */
export function disclosureRequestBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const kind = (extra.kind as string | undefined) ?? 'personal_information'
  return {
    kind,
    received_date: '2025-06-02',
    subject_matter: '2025年5月20日の電話応対の録音',
    requester: {
      name: '開示 花子',
      address: '東京都千代田区丸の内1-1-1',
      contact: '090-1234-5678',
      ...(kind === 'personal_information' ? { identity_confirmation: { method: 'driving_licence', note: '窓口で確認' } } : {}),
    },
    ...extra,
  }
}

/** POST /v1/recordings/{id}/derivatives: a copy with a third party's voice bleeped. */
export function derivativeBody(original: { sha256: string }, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    storage_uri: `s3://city-media/derivatives/${crypto.randomUUID()}.m4a`,
    sha256: sha(`derivative ${crypto.randomUUID()}`),
    size_bytes: 1_000_000,
    media_type: 'audio/mp4',
    original_sha256: original.sha256,
    redactions: [{ start_seconds: 30, end_seconds: 45.5, treatment: 'bleeped', ground: '個人情報保護法第78条第1項第2号', note: '第三者の氏名' }],
    made_by: 'staff-editor',
    checked_by: 'rm-checker',
    ...extra,
  }
}

/**
 * As if the recordings had been registered long ago: the review period that keeps an unclassified
 * recording from being purged before a person could look is over, and the schedule's end applies.
 */
export async function pastReviewPeriod(db: Db, ...ids: string[]): Promise<void> {
  for (const id of ids) {
    const row = await db
      .selectFrom('recordings')
      .innerJoin('recording_classifications as k', 'k.id', 'recordings.classification_id')
      .select(['k.retention_rule', 'recordings.retention_start'])
      .where('recordings.id', '=', id)
      .executeTakeFirstOrThrow()
    const end = retentionEnd(row.retention_start, (row.retention_rule as RetentionRule).period)
    await db.updateTable('recordings').set({ retention_end: end, review_until: null }).where('id', '=', id).execute()
  }
}
