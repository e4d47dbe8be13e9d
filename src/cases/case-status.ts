import type { Permission } from '../kernel/access.ts'

/**
 * The case status machine, as data: open → escalated → in_review → resolved → closed, and
 * reopening from resolved. Each transition names the permission it needs (from the access
 * table) and writes an event of the given type.
 */
export const CASE_STATUSES = ['open', 'escalated', 'in_review', 'resolved', 'closed'] as const
export type CaseStatus = (typeof CASE_STATUSES)[number]

export interface Transition {
  from: CaseStatus
  to: CaseStatus
  permission: Permission
  event: 'escalation' | 'status_changed'
}

const TRANSITIONS: readonly Transition[] = [
  // Front-line staff hand a case to the supervisor / desk (現場監督者・相談窓口への引継ぎ).
  { from: 'open', to: 'escalated', permission: 'cases:escalate', event: 'escalation' },
  { from: 'escalated', to: 'in_review', permission: 'cases:manage', event: 'status_changed' },
  { from: 'in_review', to: 'resolved', permission: 'cases:manage', event: 'status_changed' },
  // Closing needs a resolution event on the case (checked by the service).
  { from: 'resolved', to: 'closed', permission: 'cases:manage', event: 'status_changed' },
  // Reopen: back under review.
  { from: 'resolved', to: 'in_review', permission: 'cases:manage', event: 'status_changed' },
]

export function transitionsFrom(status: CaseStatus): Transition[] {
  return TRANSITIONS.filter((t) => t.from === status)
}

export function findTransition(from: CaseStatus, to: CaseStatus): Transition | undefined {
  return TRANSITIONS.find((t) => t.from === from && t.to === to)
}
