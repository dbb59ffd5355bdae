/**
 * Make any string or JSON value storable in Postgres text/jsonb: appends and completions must never fail
 * on what a program printed. The rules live in @ocr/contracts so the worker applies the same ones.
 */
export { sanitizeJson, sanitizeText, storableJsonText } from '@ocr/contracts';
