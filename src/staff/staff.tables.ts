import type { Generated } from 'kysely'

interface StaffProfilesTable {
  subject: string
  full_name: string | null
  family_name: string | null
  business_name: string | null
  updated_at: Generated<Date>
}

export interface StaffTables {
  staff_profiles: StaffProfilesTable
}
