import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import type { ServiceContext } from '../kernel/context.ts'
import { IdempotencyKeyHeader, IfMatchHeader, OptionalIfMatchHeader } from '../kernel/http-headers.ts'
import { setEtag } from '../kernel/preconditions.ts'
import {
  ActionListSchema,
  ActionParams,
  ActionSchema,
  AddTeamMemberSchema,
  CloseIncidentSchema,
  CreateActionSchema,
  CreateEntrySchema,
  CreateIncidentSchema,
  DecideDisclosureSchema,
  EntryListQuerySchema,
  EntryPageSchema,
  FileReportSchema,
  HandoverListSchema,
  HandoverSchema,
  IncidentEntrySchema,
  IncidentIdParams,
  IncidentListQuerySchema,
  IncidentPageSchema,
  IncidentSchema,
  JudgementHistorySchema,
  LinkRecordsSchema,
  MemberParams,
  RecordNotificationSchema,
  ReleaseIncidentHoldsSchema,
  UpdateActionSchema,
  UpdateIncidentSchema,
} from './incidents.schemas.ts'
import {
  addMember,
  addRecords,
  closeIncident,
  currentView,
  handOver,
  handoversOf,
  judgementsOf,
  listIncidentsInReach,
  openIncident,
  readIncident,
  releaseIncidentHolds,
  removeMember,
  updateIncidentFacts,
} from './incidents.service.ts'
import { actionList, addAction, addEntry, changeAction, decideDisclosure, entriesPage, fileReport, recordNotification } from './response.service.ts'

/** After a change: the incident as it now is, with its ETag. */
async function current(ctx: ServiceContext, reply: FastifyReply, id: string) {
  const view = await currentView(ctx, id)
  setEtag(reply, view.version)
  return view
}

const ReleasedSchema = Type.Object(
  { incident_id: Type.String({ format: 'uuid' }), released_hold_ids: Type.Array(Type.String({ format: 'uuid' })) },
  { $id: 'IncidentHoldsReleased', additionalProperties: false },
)

/**
 * Leak incidents (漏えい等): opening, the reporting judgement and deadlines, one owner and a team,
 * the affected records and their holds, the chronological record, actions, disclosure, reports
 * and notifications, closing.
 */
const incidentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const tags = ['incidents']

  app.post('', {
    config: { permission: 'incidents:create', idempotent: true },
    schema: {
      operationId: 'openIncident',
      summary: 'Open a leak incident (漏えい等): anyone who discovers one may',
      description:
        'Judges the reporting duty from the facts (個人情報保護法第68条) under the incident_response plan in force on the awareness date, counts the ' +
        'report deadlines, and holds every linked recording (an incident hold) unless it is a drill.',
      tags,
      headers: IdempotencyKeyHeader,
      body: CreateIncidentSchema,
      response: { 201: IncidentSchema },
    },
    handler: async (request, reply) => {
      const id = await openIncident(request.ctx, request.body)
      reply.code(201).header('location', `/v1/incidents/${id}`)
      return current(request.ctx, reply, id)
    },
  })

  app.get('', {
    config: { permission: 'incidents:read' },
    schema: {
      operationId: 'listIncidents',
      summary: 'List incidents in reach, most recently discovered first',
      description: 'Drills are listed apart: drill=true lists only drills, otherwise only real incidents.',
      tags,
      querystring: IncidentListQuerySchema,
      response: { 200: IncidentPageSchema },
    },
    handler: async (request) => {
      const q = request.query
      const filters = {
        drill: q.drill ?? false,
        status: q.status,
        kind: q.kind,
        reportable: q.reportable,
        owner: q.owner,
        recordId: q.record_id,
        awareFrom: q.aware_from ? new Date(q.aware_from) : undefined,
        awareTo: q.aware_to ? new Date(q.aware_to) : undefined,
      }
      return listIncidentsInReach(request.ctx, filters, q.limit ?? 50, q.cursor)
    },
  })

  app.get('/:id', {
    config: { permission: 'incidents:read' },
    schema: {
      operationId: 'getIncident',
      summary: 'Read an incident',
      description: "Sets ETag. What happened, how it was found and the reports' contents are redacted for callers without incidents:read_personal.",
      tags,
      params: IncidentIdParams,
      response: { 200: IncidentSchema },
    },
    handler: async (request, reply) => {
      const view = await readIncident(request.ctx, request.params.id)
      setEtag(reply, view.version)
      return view
    },
  })

  app.patch('/:id', {
    config: { permission: 'incidents:handle' },
    schema: {
      operationId: 'updateIncident',
      summary: 'Change what is known about an incident (If-Match)',
      description: 'The judgement and deadlines follow the facts; every change of the judgement is recorded (GET …/judgements).',
      tags,
      params: IncidentIdParams,
      headers: IfMatchHeader,
      body: UpdateIncidentSchema,
      response: { 200: IncidentSchema },
    },
    handler: async (request, reply) => {
      await updateIncidentFacts(request.ctx, request.params.id, request.body, request.headers['if-match'])
      return current(request.ctx, reply, request.params.id)
    },
  })

  app.get('/:id/judgements', {
    config: { permission: 'incidents:read' },
    schema: {
      operationId: 'listIncidentJudgements',
      summary: 'Every change of the reporting judgement: who, when, on which facts',
      description: 'Every change of whether the incident must be reported to the Commission, oldest first, with who changed it and the facts it rested on.',
      tags,
      params: IncidentIdParams,
      response: { 200: JudgementHistorySchema },
    },
    handler: async (request) => judgementsOf(request.ctx, request.params.id),
  })

  app.post('/:id/records', {
    config: { permission: 'incidents:handle' },
    schema: {
      operationId: 'linkIncidentRecords',
      summary: 'Link the recordings and cases a leak concerns',
      description: 'Each must be in your reach. A linked recording gets an incident hold, unless the incident is a drill.',
      tags,
      params: IncidentIdParams,
      body: LinkRecordsSchema,
      response: { 200: IncidentSchema },
    },
    handler: async (request, reply) => {
      await addRecords(request.ctx, request.params.id, request.body.records)
      return current(request.ctx, reply, request.params.id)
    },
  })

  app.post('/:id/handover', {
    config: { permission: 'incidents:handle' },
    schema: {
      operationId: 'handOverIncident',
      summary: 'Hand the incident to a new owner (窓口の引継ぎ)',
      description: 'By the owner, the desk or a records manager (incidents:hand_over); recorded and audited.',
      tags,
      params: IncidentIdParams,
      body: HandoverSchema,
      response: { 200: IncidentSchema },
    },
    handler: async (request, reply) => {
      await handOver(request.ctx, request.params.id, request.body.to, request.body.reason)
      return current(request.ctx, reply, request.params.id)
    },
  })

  app.get('/:id/handovers', {
    config: { permission: 'incidents:read' },
    schema: {
      operationId: 'listIncidentHandovers',
      summary: 'Every handover of the owner, oldest first',
      description: "Every change of the incident's owner (窓口), oldest first, with who handed it to whom and why.",
      tags,
      params: IncidentIdParams,
      response: { 200: HandoverListSchema },
    },
    handler: async (request) => handoversOf(request.ctx, request.params.id),
  })

  app.post('/:id/team', {
    config: { permission: 'incidents:handle' },
    schema: {
      operationId: 'addIncidentTeamMember',
      summary: 'Add a team member with a role (legal, public_relations, technical, records)',
      description:
        'The owner, the team, the desk and records managers. The member can then read and handle the incident; the answer is the incident as it now is.',
      tags,
      params: IncidentIdParams,
      body: AddTeamMemberSchema,
      response: { 200: IncidentSchema },
    },
    handler: async (request, reply) => {
      await addMember(request.ctx, request.params.id, request.body)
      return current(request.ctx, reply, request.params.id)
    },
  })

  app.delete('/:id/team/:memberId', {
    config: { permission: 'incidents:handle' },
    schema: {
      operationId: 'removeIncidentTeamMember',
      summary: 'Take a member off the team (the history keeps them)',
      description: 'The member no longer reaches the incident; the team history keeps that they were on it. The answer is the incident as it now is.',
      tags,
      params: MemberParams,
      response: { 200: IncidentSchema },
    },
    handler: async (request, reply) => {
      await removeMember(request.ctx, request.params.id, request.params.memberId)
      return current(request.ctx, reply, request.params.id)
    },
  })

  app.get('/:id/entries', {
    config: { permission: 'incidents:read' },
    schema: {
      operationId: 'listIncidentEntries',
      summary: "The incident's chronological record, in the order written",
      description: "Paged with cursor. The incident's record in the order written: facts, notes and what the service recorded itself.",
      tags,
      params: IncidentIdParams,
      querystring: EntryListQuerySchema,
      response: { 200: EntryPageSchema },
    },
    handler: async (request) => entriesPage(request.ctx, request.params.id, request.query.limit ?? 50, request.query.cursor),
  })

  app.post('/:id/entries', {
    config: { permission: 'incidents:handle', idempotent: true, location: false },
    schema: {
      operationId: 'addIncidentEntry',
      summary: 'Record a fact (confirmed or not), a correction, or a statement to the outside',
      description: 'Append-only. A statement relies on confirmed facts not corrected since (409 otherwise).',
      tags,
      params: IncidentIdParams,
      headers: IdempotencyKeyHeader,
      body: CreateEntrySchema,
      response: { 201: IncidentEntrySchema },
    },
    handler: async (request, reply) => {
      const entry = await addEntry(request.ctx, request.params.id, request.body)
      reply.code(201)
      return entry
    },
  })

  app.get('/:id/actions', {
    config: { permission: 'incidents:read' },
    schema: {
      operationId: 'listIncidentActions',
      summary: 'Containment and recurrence-prevention actions',
      description: 'Every containment and recurrence-prevention action with its status, owner and due date.',
      tags,
      params: IncidentIdParams,
      response: { 200: ActionListSchema },
    },
    handler: async (request) => actionList(request.ctx, request.params.id),
  })

  app.post('/:id/actions', {
    config: { permission: 'incidents:handle', idempotent: true, location: false },
    schema: {
      operationId: 'addIncidentAction',
      summary: 'Add an action: containment (被害拡大防止) or recurrence prevention (再発防止)',
      description: "Honours Idempotency-Key. The answer carries the action's ETag for later changes.",
      tags,
      params: IncidentIdParams,
      headers: IdempotencyKeyHeader,
      body: CreateActionSchema,
      response: { 201: ActionSchema },
    },
    handler: async (request, reply) => {
      const action = await addAction(request.ctx, request.params.id, request.body)
      reply.code(201)
      setEtag(reply, action.version)
      return action
    },
  })

  app.patch('/:id/actions/:actionId', {
    config: { permission: 'incidents:handle' },
    schema: {
      operationId: 'updateIncidentAction',
      summary: "Change an action's status, owner, due date, title or note",
      description: "If-Match with the action's ETag is checked when sent (412 when stale). The answer carries the next ETag.",
      tags,
      params: ActionParams,
      headers: OptionalIfMatchHeader,
      body: UpdateActionSchema,
      response: { 200: ActionSchema },
    },
    handler: async (request, reply) => {
      const action = await changeAction(request.ctx, request.params.id, request.params.actionId, request.body, request.headers['if-match'])
      setEtag(reply, action.version)
      return action
    },
  })

  app.post('/:id/disclosure-decisions', {
    config: { permission: 'incidents:handle' },
    schema: {
      operationId: 'decideIncidentDisclosure',
      summary: 'Decide to publish, or to withhold where publication would widen the damage',
      description:
        'Records whether the incident is published, or withheld where publication would widen the damage, with the reason. ' +
        'The answer is the incident as it now is.',
      tags,
      params: IncidentIdParams,
      body: DecideDisclosureSchema,
      response: { 200: IncidentSchema },
    },
    handler: async (request, reply) => {
      await decideDisclosure(request.ctx, request.params.id, request.body)
      return current(request.ctx, reply, request.params.id)
    },
  })

  app.post('/:id/reports', {
    config: { permission: 'incidents:handle' },
    schema: {
      operationId: 'fileIncidentReport',
      summary: 'Record a report to the Commission: first (速報) or final (確報)',
      description:
        'Records a report to the Personal Information Protection Commission: the first report (速報) or the final one (確報), which clears the deadline it meets.',
      tags,
      params: IncidentIdParams,
      body: FileReportSchema,
      response: { 200: IncidentSchema },
    },
    handler: async (request, reply) => {
      await fileReport(request.ctx, request.params.id, request.body)
      return current(request.ctx, reply, request.params.id)
    },
  })

  app.post('/:id/notifications', {
    config: { permission: 'incidents:handle' },
    schema: {
      operationId: 'recordIncidentNotification',
      summary: 'Record the notification of the persons affected (本人通知), or why it was not possible',
      description:
        'Records that the persons affected were notified (本人通知), when and how, or why notifying them was not possible and what was done instead.',
      tags,
      params: IncidentIdParams,
      body: RecordNotificationSchema,
      response: { 200: IncidentSchema },
    },
    handler: async (request, reply) => {
      await recordNotification(request.ctx, request.params.id, request.body)
      return current(request.ctx, reply, request.params.id)
    },
  })

  app.post('/:id/close', {
    config: { permission: 'incidents:handle' },
    schema: {
      operationId: 'closeIncident',
      summary: 'Close the incident',
      description: '409 while an action is open, unless open_actions_reason says why. Its holds stay until a records manager releases them.',
      tags,
      params: IncidentIdParams,
      body: CloseIncidentSchema,
      response: { 200: IncidentSchema },
    },
    handler: async (request, reply) => {
      await closeIncident(request.ctx, request.params.id, request.body)
      return current(request.ctx, reply, request.params.id)
    },
  })

  app.post('/:id/holds/release', {
    config: { permission: 'incidents:release_holds' },
    schema: {
      operationId: 'releaseIncidentHolds',
      summary: "Release the incident's holds on its recordings (records manager, once it is closed)",
      description: 'Records managers only, once the incident is closed: the holds the incident placed on its recordings are released; other holds stay.',
      tags,
      params: IncidentIdParams,
      body: ReleaseIncidentHoldsSchema,
      response: { 200: ReleasedSchema },
    },
    handler: async (request) => releaseIncidentHolds(request.ctx, request.params.id, request.body.reason),
  })
}

export default incidentRoutes
