import type { AuditTables } from '../audit/audit.tables.js'
import type { ChangeTables } from '../changes/changes.tables.js'
import type { CheckpointTables } from '../audit/checkpoints.tables.js'
import type { KeyTables } from '../keys/keys.tables.js'
import type { OrgUnitTables } from '../org-units/org-units.tables.js'
import type { PolicyTables } from '../policies/policies.tables.js'
import type { CaseTables } from '../cases/cases.tables.js'
import type { EventTables } from '../events/events.tables.js'
import type { RecordingTables } from '../recordings/recordings.tables.js'
import type { StaffTables } from '../staff/staff.tables.js'
import type { WebhookTables } from '../webhooks/webhooks.tables.js'
import type { CoreTables } from './core.tables.js'

/**
 * Every table Kysely may query, composed from each domain's own declaration.
 * A domain's tables are read and written only by that domain's repository.
 */
export interface Database
  extends CoreTables,
    OrgUnitTables,
    AuditTables,
    ChangeTables,
    PolicyTables,
    StaffTables,
    CaseTables,
    EventTables,
    RecordingTables,
    KeyTables,
    CheckpointTables,
    WebhookTables {}
