import type { Language } from '../language.ts'
import { en } from './en.ts'
import { ja } from './ja.ts'

/**
 * Every sentence the API writes for a person (a problem's title and detail, a field's message,
 * an explanation) is a message: an id with a template in each language's catalogue (en.ts, ja.ts)
 * and the values the template names. Code passes ids, never prose, so nothing reaches a client
 * in one language only. A template names a value as {name}; English may choose a word by a count
 * as {count|singular|plural}; a list is joined in the language's way.
 */
type MessageId = keyof typeof en

type Names<T extends string> = T extends `${string}{${infer P}}${infer Rest}` ? (P extends `${infer N}|${string}` ? N : P) | Names<Rest> : never

/** A value a template names: text, a number, a list, another message or a list of them, or field errors. */
type Param =
  | string
  | number
  | readonly string[]
  | { readonly text: Message }
  | { readonly texts: readonly Message[] }
  | { readonly fields: readonly LocalFieldError[] }

type MessageParams<Id extends MessageId> = { readonly [K in Names<(typeof en)[Id]>]: Param }

/** A message id alone when its template names no value, else the id with its values. */
export type Message = {
  [Id in MessageId]: [Names<(typeof en)[Id]>] extends [never] ? Id : { readonly id: Id; readonly params: MessageParams<Id> }
}[MessageId]

/** A failing field: where it is and what is wrong with it, as a message. */
export interface LocalFieldError {
  pointer: string
  message: Message
}

const CATALOGUES: Record<Language, Record<MessageId, string>> = { en, ja }

const PLACEHOLDER = /\{(\w+)(?:\|([^|}]*)\|([^}]*))?\}/g
const LIST_SEPARATOR: Record<Language, string> = { en: ', ', ja: '、' }
const FIELD_SEPARATOR: Record<Language, string> = { en: '; ', ja: '。' }

/** The message in a language, its values filled in. */
export function render(message: Message, language: Language): string {
  const { id, params } = typeof message === 'string' ? { id: message, params: {} as Record<string, Param> } : message
  const values = params as Record<string, Param>
  return CATALOGUES[language][id].replace(PLACEHOLDER, (_match, name: string, one?: string, other?: string) => {
    const value = values[name]
    if (one !== undefined) return value === 1 ? one : (other ?? '')
    return renderParam(value, language)
  })
}

function renderParam(value: Param | undefined, language: Language): string {
  if (value === undefined) return ''
  if (typeof value === 'string' || typeof value === 'number') return String(value)
  if (Array.isArray(value)) return value.join(LIST_SEPARATOR[language])
  if ('text' in value) return render(value.text, language)
  if ('texts' in value) return value.texts.map((t) => render(t, language)).join(LIST_SEPARATOR[language])
  if ('fields' in value) {
    const fields = value.fields.map((f) => `${f.pointer} ${render(f.message, language)}`)
    return fields.join(FIELD_SEPARATOR[language])
  }
  return ''
}
