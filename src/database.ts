import type { AuditTables } from './kernel/audit.tables.js'
import type { ChangeTables } from './kernel/changes.tables.js'
import type { MediaGrantTables } from './media-grants/media-grants.tables.js'
import type { OrgUnitTables } from './org-units/org-units.tables.js'
import type { PolicyTables } from './policies/policies.tables.js'
import type { CaseTables } from './cases/cases.tables.js'
import type { EventTables } from './cases/events.tables.js'
import type { RecordingTables } from './recordings/recordings.tables.js'
import type { StaffTables } from './staff/staff.tables.js'
import type { WebhookTables } from './webhooks/webhooks.tables.js'
import type { CoreTables } from './kernel/kernel.tables.js'

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
    MediaGrantTables,
    WebhookTables {}
