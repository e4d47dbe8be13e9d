import { type ExpressionBuilder, type RawBuilder, sql } from 'kysely'
import { jsonObjectFrom } from 'kysely/helpers/postgres'
import type { Database } from '../kernel/db.ts'
import { Type, type Static } from 'typebox'
import type { Caller } from '../kernel/auth.ts'
import type { Queryable } from '../kernel/db.ts'
import type { PolicyBodies } from '../policies/policies.schemas.ts'

/**
 * Staff as responses show them. Names come from the staff's own tokens (name, family_name,
 * business_name claims) when they act, and appear only as the name-display policy in force
 * allows (名札の見直し): surname only or a business name keeps legal names off screens that
 * customers may photograph and off exports that may be disclosed.
 */
export const StaffRefSchema = Type.Object(
  {
    id: Type.String({ description: "The staff member's subject (staff id), or 'system'" }),
    display_name: Type.String({ description: 'The name the name-display policy in force allows' }),
  },
  { $id: 'StaffRef', additionalProperties: false },
)
export type StaffRef = Static<typeof StaffRefSchema>

export const SYSTEM_ACTOR = 'system'
type NameMode = PolicyBodies['name_display']['mode']

/** Who a staff profile is about, and the names their token gives. */
type StaffNames = Pick<Caller, 'subject' | 'name' | 'familyName' | 'businessName'>

export interface Profile {
  full_name: string | null
  family_name: string | null
  business_name: string | null
}

/**
 * A staff member's names as a JSON object (or null), as a column of another domain's query:
 * lists and records show their people without a query of their own.
 * `subject` is a column reference such as 'cases.created_by'.
 */
export function staffProfileOf<DB extends Database, TB extends keyof DB>(eb: ExpressionBuilder<DB, TB>, subject: string) {
  const db = eb as unknown as ExpressionBuilder<Database, never>
  return jsonObjectFrom(
    db
      .selectFrom('staff_profiles')
      .select(['staff_profiles.full_name', 'staff_profiles.family_name', 'staff_profiles.business_name'])
      .where('staff_profiles.subject', '=', sql.ref<string>(subject)),
  )
}

/** A StaffRef from a subject and the profile fetched with it. */
export function staffRef(subject: string, profile: Profile | null | undefined, mode: NameMode): StaffRef {
  return { id: subject, display_name: displayName(subject, profile ?? undefined, mode) }
}

/**
 * Keeps the caller's names as their token states them. One statement, and no row lock when
 * nothing changed: every request of one person would otherwise queue on their profile row.
 */
export async function rememberStaff(q: Queryable, caller: StaffNames): Promise<void> {
  const names = sql`(${caller.name}::text, ${caller.familyName}::text, ${caller.businessName}::text)`
  await sql`
    with changed as (
      update staff_profiles
         set (full_name, family_name, business_name, updated_at) = (${caller.name}, ${caller.familyName}, ${caller.businessName}, now())
       where subject = ${caller.subject} and (full_name, family_name, business_name) is distinct from ${names}
      returning subject)
    insert into staff_profiles (subject, full_name, family_name, business_name)
    select ${caller.subject}, ${caller.name}, ${caller.familyName}, ${caller.businessName}
     where not exists (select 1 from staff_profiles where subject = ${caller.subject})
    on conflict (subject) do nothing`.execute(q)
}

/** A writer's subject and names as values of a statement compiled once (compiled-queries.ts). */
export function writerValues(caller: Caller) {
  return { writerSubject: caller.subject, writerName: caller.name, writerFamilyName: caller.familyName, writerBusinessName: caller.businessName }
}

/** rememberStaffCtes for a statement compiled once: the writer from the stand-ins of `writerValues`. */
export function rememberWriterCtes(p: ReturnType<typeof writerValues>, condition: RawBuilder<unknown>): RawBuilder<unknown> {
  return rememberStaffCtes({ subject: p.writerSubject, name: p.writerName, familyName: p.writerFamilyName, businessName: p.writerBusinessName }, condition)
}

/**
 * `rememberStaff` as two CTEs (`staff_changed`, `staff_added`) for a write done in one statement,
 * applied only where `condition` holds: put them in the statement's WITH list.
 */
function rememberStaffCtes(caller: StaffNames, condition: RawBuilder<unknown>): RawBuilder<unknown> {
  const names = sql`(${caller.name}::text, ${caller.familyName}::text, ${caller.businessName}::text)`
  return sql`
    staff_changed as (
      update staff_profiles
         set (full_name, family_name, business_name, updated_at) = (${caller.name}, ${caller.familyName}, ${caller.businessName}, now())
       where subject = ${caller.subject} and (full_name, family_name, business_name) is distinct from ${names} and ${condition}
      returning subject),
    staff_added as (
      insert into staff_profiles (subject, full_name, family_name, business_name)
      select ${caller.subject}, ${caller.name}, ${caller.familyName}, ${caller.businessName}
       where not exists (select 1 from staff_profiles where subject = ${caller.subject}) and ${condition}
      on conflict (subject) do nothing)`
}

/**
 * Staff members with their names (null when unknown) as one JSON array of `{ subject, profile }`
 * ordered by subject, as a column of a statement that answers with the people it wrote. The
 * subjects are one array parameter, so a statement compiled once takes any number of them.
 */
export function staffProfilesIn(subjects: readonly string[]): RawBuilder<Array<{ subject: string; profile: Profile | null }>> {
  return sql`(select coalesce(jsonb_agg(jsonb_build_object('subject', s.subject, 'profile', (
                select to_jsonb(p) from (select full_name, family_name, business_name from staff_profiles where subject = s.subject) p))
                order by s.subject), '[]'::jsonb)
                from unnest(${subjects}::text[]) s(subject))`
}

/** The display name the policy allows. Without an allowed name, the staff id: never more. */
function displayName(subject: string, profile: Profile | undefined, mode: NameMode): string {
  if (subject === SYSTEM_ACTOR) return 'Madoguchi (system)'
  if (!profile) return subject
  switch (mode) {
    case 'full_name':
      return profile.full_name ?? subject
    case 'surname_only':
      return profile.family_name ?? surnameOf(profile.full_name) ?? subject
    case 'business_name':
      return profile.business_name ?? subject
  }
}

// Japanese names are written surname first; without a separator the surname cannot be told
// apart, and then the full name must not be shown.
function surnameOf(fullName: string | null): string | null {
  if (!fullName) return null
  const parts = fullName.trim().split(/[\s\u3000]+/)
  return parts.length >= 2 ? parts[0]! : null
}

/** StaffRefs for many subjects at once (one query). */
export async function staffRefs(q: Queryable, subjects: Iterable<string>, mode: NameMode): Promise<Map<string, StaffRef>> {
  const unique = [...new Set(subjects)].filter((s) => s !== SYSTEM_ACTOR)
  const rows = unique.length
    ? await q.selectFrom('staff_profiles').select(['subject', 'full_name', 'family_name', 'business_name']).where('subject', 'in', unique).execute()
    : []
  const profiles = new Map(rows.map((r) => [r.subject, r]))
  const refs = new Map<string, StaffRef>()
  for (const subject of [...unique, SYSTEM_ACTOR]) refs.set(subject, { id: subject, display_name: displayName(subject, profiles.get(subject), mode) })
  return refs
}
