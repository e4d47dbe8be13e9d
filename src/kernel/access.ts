/**
 * Who may do what: the single access table. Routes declare the permission they need
 * (`config.permission`); the authorisation hook looks it up here; services narrow records
 * by the reach it grants. Nothing else decides access, and no route checks roles itself.
 */

export const ROLES = ['staff', 'supervisor', 'desk', 'records_manager', 'auditor', 'admin', 'integration'] as const
export type Role = (typeof ROLES)[number]

/**
 * How far a grant reaches. The meaning per record kind:
 * - own:  records the caller is responsible for (a case they respond to, a recording of such
 *         a case; an incident they opened, own (窓口) or are on the team of); for creation, the
 *         caller's own org unit only.
 * - unit: records of the caller's org unit and every unit below it.
 * - all:  every record.
 */
export type Reach = 'own' | 'unit' | 'all'
const REACH_ORDER: Reach[] = ['own', 'unit', 'all']

type Grants = Partial<Record<Role, Reach>>
const everyone: Grants = Object.fromEntries(ROLES.map((r) => [r, 'all']))

export const ACCESS = {
  // Org units (所属) and policies: everyone reads, admins write.
  'org_units:read': everyone,
  'org_units:write': { admin: 'all' },
  'policies:read': everyone,
  'policies:write': { admin: 'all' },
  'calendar:read': everyone,

  // Cases and their chronological record (時系列).
  'cases:create': { staff: 'own', supervisor: 'unit', desk: 'all', integration: 'unit' },
  'cases:read': { staff: 'own', supervisor: 'unit', desk: 'all', records_manager: 'all', auditor: 'all', integration: 'unit' },
  /** The customer's contact details (個人情報). Without it they are redacted, never dropped. */
  'cases:read_personal': { staff: 'own', supervisor: 'unit', desk: 'all', integration: 'unit' },
  'cases:update': { staff: 'own', supervisor: 'unit', desk: 'all', integration: 'unit' },
  'cases:upsert_external': { integration: 'unit' },
  /** Respond to cases (対応者): whoever records a case becomes its responder; service accounts never do. */
  'cases:respond': { staff: 'own', supervisor: 'unit', desk: 'all' },
  /** Hand a case over to the supervisor / desk (open → escalated). */
  'cases:escalate': { staff: 'own', supervisor: 'unit', desk: 'all' },
  /** Review, resolve, close, reopen; acknowledge fault; notes on closed cases. */
  'cases:manage': { supervisor: 'unit', desk: 'all' },
  /** Add a responder: supervisors and the desk, or a responder bringing in a colleague. */
  'cases:add_responder': { staff: 'own', supervisor: 'unit', desk: 'all' },
  'events:create': { staff: 'own', supervisor: 'unit', desk: 'all', integration: 'unit' },
  'events:read': { staff: 'own', supervisor: 'unit', desk: 'all', auditor: 'all', integration: 'unit' },

  // Recordings (録音・録画): metadata, classification, retention, holds, disposition.
  'recordings:create': { staff: 'own', supervisor: 'unit', desk: 'all', records_manager: 'all', integration: 'unit' },
  'recordings:read': { staff: 'own', supervisor: 'unit', desk: 'all', records_manager: 'all', auditor: 'all', integration: 'unit' },
  'recordings:update': { staff: 'own', supervisor: 'unit', desk: 'all', records_manager: 'all' },
  'recordings:classify': { records_manager: 'all' },
  'recordings:hold': { supervisor: 'unit', desk: 'all', records_manager: 'all' },
  'recordings:release_hold': { records_manager: 'all' },
  'recordings:dispose': { records_manager: 'all' },
  /** Register redaction derivatives (partial disclosure) of a recording. */
  'recordings:derive': { desk: 'all', records_manager: 'all' },
  /** Media access grants, and seeing storage_uri at all. */
  'recordings:media_access': { supervisor: 'unit', desk: 'all', records_manager: 'all' },
  'dispositions:read': { records_manager: 'all', auditor: 'all' },

  // Leak incidents (漏えい等). Anyone who discovers a leak may open one; the desk, records managers
  // and the incident's team handle it. own: read = incidents the caller opened, owns or is on the
  // team of; handle = owns or is on the team of; hand over = owns. unit (supervisors): incidents
  // touching records of their unit and below.
  'incidents:create': { staff: 'own', supervisor: 'unit', desk: 'all', records_manager: 'all' },
  'incidents:read': { staff: 'own', supervisor: 'unit', desk: 'all', records_manager: 'all', auditor: 'all' },
  /** What happened and how it was found, the facts' text, reports' contents: redacted without it. */
  'incidents:read_personal': { staff: 'own', supervisor: 'unit', desk: 'all', records_manager: 'all' },
  'incidents:handle': { staff: 'own', supervisor: 'own', desk: 'all', records_manager: 'all' },
  /** Hand the incident to a new owner (窓口): the owner, the desk, records managers. */
  'incidents:hand_over': { staff: 'own', supervisor: 'own', desk: 'all', records_manager: 'all' },
  /** Release an incident's holds once it is closed. */
  'incidents:release_holds': { records_manager: 'all' },
  // Disclosure requests (開示請求): the desk and records managers handle them; supervisors read
  // those that cover records of their unit (and below); auditors read all, requester redacted.
  'disclosure_requests:handle': { desk: 'all', records_manager: 'all' },
  'disclosure_requests:read': { supervisor: 'unit', desk: 'all', records_manager: 'all', auditor: 'all' },
  /** The requester's details (個人情報). Without it they are redacted, never dropped. */
  'disclosure_requests:read_personal': { desk: 'all', records_manager: 'all' },

  // Statistics (統計). Everyone who reads cases, and auditors and admins; figures are exact only
  // within statistics:exact (the roles that read the cases themselves, within that reach).
  // Without it, figures cover every unit with small cells suppressed (src/statistics/suppression.ts).
  'statistics:read': { staff: 'own', supervisor: 'unit', desk: 'all', records_manager: 'all', integration: 'unit', auditor: 'all', admin: 'all' },
  'statistics:exact': { staff: 'own', supervisor: 'unit', desk: 'all', records_manager: 'all', integration: 'unit' },

  // Audit trail and integration.
  /** own (admin): only entries about policies and org units. */
  'audit:read': { auditor: 'all', admin: 'own' },
  'audit:verify': { auditor: 'all' },
  /**
   * Ask for a signed checkpoint of the audit chain now. It changes no record (the service signs
   * checkpoints on its own anyway), so auditors, who never change records, may ask; so may admins.
   */
  'audit:checkpoint': { auditor: 'all', admin: 'all' },
  'changes:read': { integration: 'unit', auditor: 'all' },
  'webhooks:manage': { admin: 'all' },

  // Signing keys (media grants, audit checkpoints): their state without private parts, and rotation.
  'keys:read': { admin: 'all', auditor: 'all' },
  'keys:rotate': { admin: 'all' },
} as const satisfies Record<string, Grants>

export type Permission = keyof typeof ACCESS
const PERMISSIONS = Object.keys(ACCESS) as Permission[]

/** What a route needs: a permission, any valid token, or nothing (infrastructure routes). */
export type RouteAccess = Permission | 'authenticated' | 'public'

export function isPermission(value: unknown): value is Permission {
  return typeof value === 'string' && Object.hasOwn(ACCESS, value)
}

/** The widest reach any of the roles has for the permission, or null when none grants it. */
export function reachFor(roles: readonly Role[], permission: Permission): Reach | null {
  const grants: Grants = ACCESS[permission]
  let best: Reach | null = null
  for (const role of roles) {
    const reach = grants[role]
    if (reach && (best === null || REACH_ORDER.indexOf(reach) > REACH_ORDER.indexOf(best))) best = reach
  }
  return best
}

/** Every permission the roles hold, with its reach (for GET /v1/me). */
export function permissionsOf(roles: readonly Role[]): Partial<Record<Permission, Reach>> {
  const held: Partial<Record<Permission, Reach>> = {}
  for (const permission of PERMISSIONS) {
    const reach = reachFor(roles, permission)
    if (reach) held[permission] = reach
  }
  return held
}
