import { Type, type Static } from 'typebox'
import { ChangeSchema } from '../changes/changes.schemas.ts'
import { PageQuery, pageOf } from '../kernel/pagination.ts'

// An event kind (case.created), every kind of a resource (case.*), or every kind (*).
const KIND_PATTERN = '^(\\*|[a-z][a-z0-9_]*\\.\\*|[a-z][a-z0-9_]*\\.[a-z][a-z0-9_]*)$'
const Kinds = Type.Array(Type.String({ pattern: KIND_PATTERN, maxLength: 100, examples: ['case.*'] }), {
  minItems: 1,
  maxItems: 50,
  uniqueItems: true,
  description: 'Change kinds to deliver: a kind (case.created), all of a resource (case.*), or everything (*)',
})
const Url = Type.String({ minLength: 1, maxLength: 2000, description: 'https URL (plain http only to WEBHOOK_PRIVATE_NETWORKS)' })
const Secret = Type.String({ minLength: 32, maxLength: 200, description: 'Signing secret, at least 32 characters; generated when left out' })

export const WebhookSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    url: Type.String(),
    kinds: Type.Array(Type.String()),
    org_unit_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], {
      description: 'Only changes of this unit and below (and organisation-wide ones); null: every unit',
    }),
    description: Type.String(),
    active: Type.Boolean(),
    start_position: Type.Integer({ minimum: 0, description: 'The feed head at creation: changes after it are delivered' }),
    created_at: Type.String({ format: 'date-time' }),
    created_by: Type.String(),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Webhook', additionalProperties: false },
)
export type Webhook = Static<typeof WebhookSchema>

export const CreatedWebhookSchema = Type.Object(
  {
    ...WebhookSchema.properties,
    secret: Type.String({ description: 'The signing secret. Shown once, now: it is never returned again' }),
  },
  { $id: 'CreatedWebhook', additionalProperties: false },
)

export const CreateWebhookSchema = Type.Object(
  {
    url: Url,
    kinds: Kinds,
    org_unit_id: Type.Optional(Type.Union([Type.String({ format: 'uuid' }), Type.Null()])),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    secret: Type.Optional(Secret),
  },
  { $id: 'CreateWebhook', additionalProperties: false },
)
export type CreateWebhook = Static<typeof CreateWebhookSchema>

export const UpdateWebhookSchema = Type.Object(
  {
    url: Type.Optional(Url),
    kinds: Type.Optional(Kinds),
    org_unit_id: Type.Optional(Type.Union([Type.String({ format: 'uuid' }), Type.Null()])),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    active: Type.Optional(Type.Boolean({ description: 'false: nothing is delivered, and changes meanwhile are not delivered later' })),
    secret: Type.Optional(Secret),
  },
  { $id: 'UpdateWebhook', additionalProperties: false, minProperties: 1 },
)
export type UpdateWebhook = Static<typeof UpdateWebhookSchema>

export const WebhookListSchema = Type.Object({ items: Type.Array(WebhookSchema) }, { $id: 'WebhookList', additionalProperties: false })

const DELIVERY_STATUSES = ['pending', 'delivered', 'dead', 'cancelled'] as const

const DeliveryAttemptSchema = Type.Object(
  {
    attempt: Type.Integer({ minimum: 1 }),
    attempted_at: Type.String({ format: 'date-time' }),
    duration_ms: Type.Integer({ minimum: 0 }),
    http_status: Type.Union([Type.Integer(), Type.Null()], { description: 'null: no response (refused, timed out, unreachable)' }),
    error: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'DeliveryAttempt', additionalProperties: false },
)

export const DeliverySchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    webhook_id: Type.String({ format: 'uuid' }),
    change_position: Type.Integer({ minimum: 1 }),
    kind: Type.String(),
    status: Type.Enum([...DELIVERY_STATUSES], {
      description: 'pending (queued or retrying), delivered, dead (gave up after the last attempt), cancelled (webhook deleted)',
    }),
    attempts: Type.Integer({ minimum: 0 }),
    next_attempt_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When pending: the next attempt' }),
    last_attempt_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    last_status: Type.Union([Type.Integer(), Type.Null()]),
    last_error: Type.Union([Type.String(), Type.Null()]),
    delivered_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    created_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'WebhookDelivery', additionalProperties: false },
)
export type Delivery = Static<typeof DeliverySchema>

export const DeliveryDetailSchema = Type.Object(
  { ...DeliverySchema.properties, attempt_log: Type.Array(DeliveryAttemptSchema) },
  { $id: 'WebhookDeliveryDetail', additionalProperties: false },
)

export const DeliveryPageSchema = pageOf(DeliverySchema, 'WebhookDeliveryPage')
export const DeliveryQuerySchema = Type.Object({ status: Type.Optional(Type.Enum([...DELIVERY_STATUSES])), ...PageQuery }, { additionalProperties: false })

export const WebhookParamsSchema = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false })
export const DeliveryParamsSchema = Type.Object(
  { id: Type.String({ format: 'uuid' }), deliveryId: Type.String({ format: 'uuid' }) },
  { additionalProperties: false },
)

/** What a receiver gets (the body that is signed). */
const DeliveryPayloadSchema = Type.Object(
  {
    delivery_id: Type.String({ format: 'uuid', description: 'The same on every attempt: receivers deduplicate by it' }),
    webhook_id: Type.String({ format: 'uuid' }),
    change: ChangeSchema,
  },
  { $id: 'WebhookPayload', additionalProperties: false },
)
export type DeliveryPayload = Static<typeof DeliveryPayloadSchema>
