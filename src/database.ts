import type { CheckpointTables } from './audit/checkpoints.tables.ts'
import type { CaseTables } from './cases/cases.tables.ts'
import type { EventTables } from './cases/events.tables.ts'
import type { KeyTables } from './keys/keys.tables.ts'
import type { IncidentTables } from './incidents/incidents.tables.ts'
import type { DisclosureRequestTables } from './disclosure-requests/disclosure-requests.tables.ts'
import type { OrgUnitTables } from './org-units/org-units.tables.ts'
import type { PolicyTables } from './policies/policies.tables.ts'
import type { RecordingTables } from './recordings/recordings.tables.ts'
import type { StaffTables } from './staff/staff.tables.ts'
import type { WebhookTables } from './webhooks/webhooks.tables.ts'

/**
 * The database as the service sees it: the kernel's tables (src/kernel/db.ts) and every module's
 * own, composed here by declaration merging. A module's tables are read and written only by that
 * module's repository; other modules reach them through its exported functions.
 */
declare module './kernel/db.ts' {
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
