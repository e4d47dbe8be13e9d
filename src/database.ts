import type { CheckpointTables } from './audit/checkpoints.tables.js'
import type { CaseTables } from './cases/cases.tables.js'
import type { EventTables } from './cases/events.tables.js'
import type { KeyTables } from './keys/keys.tables.js'
import type { IncidentTables } from './incidents/incidents.tables.js'
import type { DisclosureRequestTables } from './disclosure-requests/disclosure-requests.tables.js'
import type { OrgUnitTables } from './org-units/org-units.tables.js'
import type { PolicyTables } from './policies/policies.tables.js'
import type { RecordingTables } from './recordings/recordings.tables.js'
import type { StaffTables } from './staff/staff.tables.js'
import type { WebhookTables } from './webhooks/webhooks.tables.js'

/**
 * The database as the service sees it: the kernel's tables (src/kernel/db.ts) and every module's
 * own, composed here by declaration merging. A module's tables are read and written only by that
 * module's repository; other modules reach them through its exported functions.
 */
declare module './kernel/db.js' {
  interface Database
    extends OrgUnitTables,
      PolicyTables,
      StaffTables,
      CaseTables,
      EventTables,
      RecordingTables,
      KeyTables,
      CheckpointTables,
      WebhookTables,
      IncidentTables,
      DisclosureRequestTables {}
}
