import { CompactSign, compactVerify } from 'jose'
import { Value } from 'typebox/value'
import { publishChanges } from '../kernel/outbox.ts'
import { GENESIS_HASH, linkAllPendingEntries } from '../kernel/audit-chain.ts'
import type { ServiceContext } from '../kernel/context.ts'
import type { Db, Trx } from '../kernel/db.ts'
import { badRequest, conflict } from '../kernel/errors.ts'
import { decodeCursor, paginate } from '../kernel/pagination.ts'
import type { SigningKeys } from '../keys/keys.service.ts'
import { chainHead } from './audit.repository.ts'
import { type ChainVerification, verifyChain } from './chain-verification.ts'
import { hashAt, insertCheckpoint, lastCheckpoint, linkedHead, listCheckpoints, takeCheckpointLock, type CheckpointRow } from './checkpoints.repository.ts'
import { CheckpointStatementSchema, type CheckpointCheck, type CheckpointQuery, type CheckpointStatement, type CheckpointView } from './checkpoints.schemas.ts'
import type { Message } from '../kernel/messages/index.ts'

/**
 * Signed checkpoints of the audit chain, as Certificate Transparency signs tree heads.
 *
 * The hash chain shows an entry altered or removed anywhere before its end, but a chain whose
 * newest entries were cut off is still valid in itself. A checkpoint is a signature, by a key of
 * its own (purpose audit_checkpoint, src/keys), over the chain position, the hash there, the
 * time, and the previous checkpoint's position and hash. Copies held outside the service (feed
 * consumers, webhook receivers, auditors) then prove what the chain held: if it no longer
 * reaches that position, or holds another hash there, the chain was cut or rewritten.
 *
 * Checkpoints cover linked entries only, one per chain head: a background job signs one every
 * AUDIT_CHECKPOINT_INTERVAL_MS when the chain has grown (on every instance; an advisory lock
 * lets one sign at a time), and auditors or administrators can ask for one now.
 */
const CHECKPOINT_TYPE = 'audit-checkpoint+jws'
export const CHECKPOINT_JWKS_PATH = '/.well-known/audit-checkpoint-jwks.json'
const CHECKPOINT_CHANGE_KIND = 'audit.checkpoint'

function toCheckpointView(row: CheckpointRow): CheckpointView {
  return {
    checkpoint: row.number,
    chain_seq: row.chain_seq,
    chain_hash: row.chain_hash,
    signed_at: row.signed_at.toISOString(),
    prev_chain_seq: row.prev_chain_seq,
    prev_chain_hash: row.prev_chain_hash,
    kid: row.kid,
    alg: 'ES256',
    jws: row.jws,
  }
}

/**
 * Signs a checkpoint of the current chain head in the caller's transaction, unless the last
 * checkpoint already covers it (then that one is returned, `created: false`). Published on the
 * change feed as `audit.checkpoint` in the same transaction. Null when another signer holds the
 * lock (`wait: false`) or nothing is linked yet.
 *
 * Before signing, the chain must still hold the previous checkpoint's hash at its position:
 * a chain that was cut or rewritten gets no new checkpoint that would paper over it (409).
 */
export async function signCheckpoint(
  trx: Trx,
  keys: SigningKeys,
  options: { wait: boolean },
): Promise<{ checkpoint: CheckpointView; created: boolean } | null> {
  if (!(await takeCheckpointLock(trx, options.wait))) return null
  const head = await linkedHead(trx)
  if (!head) return null
  const last = await lastCheckpoint(trx)
  if (last) {
    const held = await hashAt(trx, last.chain_seq)
    if (held !== last.chain_hash) {
      throw conflict(
        {
          id: held === undefined ? 'checkpoint.lost_chain_ends' : 'checkpoint.lost_other_hash',
          params: { checkpoint: last.number, position: last.chain_seq },
        },
        { checkpoint: last.number },
      )
    }
    if (last.chain_seq >= head.chain_seq) return { checkpoint: toCheckpointView(last), created: false }
  }

  const signer = await keys.signer(trx, 'audit_checkpoint')
  const statement: CheckpointStatement = {
    checkpoint: (last?.number ?? 0) + 1,
    chain_seq: head.chain_seq,
    chain_hash: head.hash,
    signed_at: new Date().toISOString(),
    prev_chain_seq: last?.chain_seq ?? 0,
    prev_chain_hash: last?.chain_hash ?? GENESIS_HASH,
  }
  const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(statement)))
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: CHECKPOINT_TYPE })
    .sign(signer.key)
  const row: CheckpointRow = {
    number: statement.checkpoint,
    chain_seq: statement.chain_seq,
    chain_hash: statement.chain_hash,
    prev_chain_seq: statement.prev_chain_seq,
    prev_chain_hash: statement.prev_chain_hash,
    signed_at: new Date(statement.signed_at),
    kid: signer.kid,
    jws,
  }
  await insertCheckpoint(trx, row)
  const view = toCheckpointView(row)
  // Organisation-wide (no org unit): every feed reader and webhook receiver may hold copies.
  await publishChanges(trx, [
    {
      kind: CHECKPOINT_CHANGE_KIND,
      resourceType: 'audit_checkpoint',
      resourceId: String(view.checkpoint),
      orgUnitId: null,
      data: { ...statement, kid: view.kid, jws },
    },
  ])
  return { checkpoint: view, created: true }
}

/** Every checkpoint, oldest or newest first, a page at a time (auditors). */
export async function checkpointPage(ctx: ServiceContext, query: CheckpointQuery) {
  const { order = 'oldest', limit = 50, cursor } = query
  const afterNumber = cursor === undefined ? null : Number(decodeCursor(cursor, 1)[0])
  const rows = await listCheckpoints(ctx.db, { order, afterNumber: Number.isFinite(afterNumber) ? afterNumber : null, limit: limit + 1 })
  const { page, nextCursor } = paginate(rows, limit, (row) => [row.number])
  ctx.audit.details = { order, count: page.length }
  return { items: page.map(toCheckpointView), next_cursor: nextCursor }
}

/**
 * A checkpoint on request: links every committed entry first (in transactions of its own: the
 * embedded database has one connection), then signs in a transaction that `commit` also writes
 * the request's audit entry in, so the checkpoint and its entry commit together. 201 for a new
 * checkpoint, 200 when the last one already covers the head; 409 when nothing is linked yet.
 */
export async function checkpointOnRequest(
  ctx: ServiceContext,
  db: Db,
  keys: SigningKeys,
  commit: (trx: Trx, status: 200 | 201) => Promise<void>,
): Promise<{ checkpoint: CheckpointView; status: 200 | 201 }> {
  await linkAllPendingEntries(db)
  return db.transaction().execute(async (trx) => {
    const signed = await signCheckpoint(trx, keys, { wait: true })
    if (!signed) throw conflict('checkpoint.no_linked_entries')
    const status: 200 | 201 = signed.created ? 201 : 200
    ctx.audit.resourceId = String(signed.checkpoint.checkpoint)
    ctx.audit.details = {
      checkpoint: signed.checkpoint.checkpoint,
      chain_seq: signed.checkpoint.chain_seq,
      kid: signed.checkpoint.kid,
      created: signed.created,
    }
    await commit(trx, status)
    return { checkpoint: signed.checkpoint, status }
  })
}

/** One round of the background job: a checkpoint when the chain has grown, unless another instance is signing. */
export async function runCheckpointRound(db: Db, keys: SigningKeys): Promise<boolean> {
  const result = await db.transaction().execute((trx) => signCheckpoint(trx, keys, { wait: false }))
  return result?.created ?? false
}

const JWS = /^[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+$/

/** The header and statement of a checkpoint JWS, unverified; 400 when it is not one. */
function readCheckpoint(jws: string): { kid: string; alg: string; typ: unknown; statement: CheckpointStatement } {
  const refuse = (message: Message) =>
    badRequest({ id: 'checkpoint.not_a_checkpoint', params: { why: { text: message } } }, [{ pointer: 'querystring/checkpoint', message }])
  const payload = JWS.exec(jws)?.[1]
  if (!payload) throw refuse('checkpoint.not_compact_jws')
  let header: { kid?: unknown; alg?: unknown; typ?: unknown }
  let statement: unknown
  try {
    header = JSON.parse(Buffer.from(jws.slice(0, jws.indexOf('.')), 'base64url').toString('utf8')) as typeof header
    statement = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
  } catch {
    throw refuse('checkpoint.not_json')
  }
  if (typeof header.kid !== 'string' || typeof header.alg !== 'string') throw refuse('checkpoint.no_kid_alg')
  if (!Value.Check(CheckpointStatementSchema, statement)) throw refuse('checkpoint.not_statement')
  return { kid: header.kid, alg: header.alg, typ: header.typ, statement }
}

export interface CheckpointVerification {
  chain: ChainVerification
  fromSeq: number
  toSeq: number
  check: CheckpointCheck
}

/**
 * Verifies the chain against a checkpoint held outside: its signature (with the checkpoint keys
 * this service publishes), then that the chain is intact from the first entry up to the
 * checkpoint's position and holds the signed hash there. Link pending entries first.
 */
export async function verifyAgainstCheckpoint(db: Db, keys: SigningKeys, jws: string): Promise<CheckpointVerification> {
  const { kid, alg, typ, statement } = readCheckpoint(jws)
  const name = `checkpoint ${statement.checkpoint} (position ${statement.chain_seq}, signed ${statement.signed_at})`

  let signatureFailure: CheckpointCheck['failure'] = null
  const key = await keys.publicKey(db, 'audit_checkpoint', kid)
  if (!key) signatureFailure = 'unknown-key'
  else {
    try {
      await compactVerify(jws, key, { algorithms: ['ES256'] })
      if (alg !== 'ES256' || typ !== CHECKPOINT_TYPE) signatureFailure = 'signature-invalid'
    } catch {
      signatureFailure = 'signature-invalid'
    }
  }

  // The chain up to the checkpoint (or to where it ends now, when that is earlier).
  const head = await chainHead(db)
  const toSeq = Math.min(head, statement.chain_seq)
  const chain: ChainVerification =
    toSeq >= 1 ? await verifyChain(db, { fromSeq: 1, toSeq }) : { checked: 0, first_seq: null, last_seq: null, last_hash: null, broken: null }

  let failure: CheckpointCheck['failure'] = signatureFailure
  let detail: string
  if (failure === 'unknown-key') detail = `${name} names key ${kid}, which is not a checkpoint key of this service`
  else if (failure === 'signature-invalid') detail = `${name}: its signature does not verify with checkpoint key ${kid}`
  else if (chain.broken) {
    failure = 'chain-broken'
    detail = `${name} does not hold: the chain is broken at position ${chain.broken.chain_seq} (${chain.broken.reason}), at or before the checkpoint`
  } else if (head < statement.chain_seq) {
    failure = 'chain-shorter'
    detail = `${name} does not hold: the chain now ends at position ${head}; entries after it were removed`
  } else if (chain.last_hash !== statement.chain_hash) {
    failure = 'hash-differs'
    detail = `${name} does not hold: the chain has another hash at position ${statement.chain_seq}; entries at or before it were rewritten`
  } else detail = `${name} holds: the chain is intact up to position ${statement.chain_seq} and has the signed hash there`

  return {
    chain,
    fromSeq: 1,
    toSeq: statement.chain_seq,
    check: {
      checkpoint: statement.checkpoint,
      chain_seq: statement.chain_seq,
      chain_hash: statement.chain_hash,
      signed_at: statement.signed_at,
      kid,
      holds: failure === null,
      failure,
      detail,
    },
  }
}
