import type { ColumnType, Generated } from 'kysely'

type DeliveryStatus = 'pending' | 'delivered' | 'dead' | 'cancelled'

export interface WebhooksTable {
  id: string
  url: string
  kinds: string[]
  org_unit_id: string | null
  description: string
  /** The signing key; never leaves the service after creation. */
  secret: string
  active: boolean
  start_position: number
  created_at: ColumnType<Date, never, never>
  created_by: string
  updated_at: ColumnType<Date, never, Date>
  deleted_at: ColumnType<Date | null, never, Date | null>
}

interface WebhookDispatchTable {
  singleton: ColumnType<boolean, never, never>
  position: number
}

export interface WebhookDeliveriesTable {
  id: string
  webhook_id: string
  change_position: number
  kind: string
  status: ColumnType<DeliveryStatus, DeliveryStatus | undefined, DeliveryStatus>
  attempts: ColumnType<number, never, number>
  next_attempt_at: ColumnType<Date, Date | undefined, Date>
  last_attempt_at: ColumnType<Date | null, never, Date | null>
  last_status: ColumnType<number | null, never, number | null>
  last_error: ColumnType<string | null, never, string | null>
  delivered_at: ColumnType<Date | null, never, Date | null>
  created_at: ColumnType<Date, never, never>
}

interface WebhookAttemptsTable {
  id: Generated<number>
  delivery_id: string
  attempt: number
  attempted_at: Date
  duration_ms: number
  http_status: number | null
  error: string | null
}

export interface WebhookTables {
  webhooks: WebhooksTable
  webhook_dispatch: WebhookDispatchTable
  webhook_deliveries: WebhookDeliveriesTable
  webhook_attempts: WebhookAttemptsTable
}
