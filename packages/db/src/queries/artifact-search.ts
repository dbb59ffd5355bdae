import { sql, type Kysely } from 'kysely';
import type { ArtifactKind, ArtifactRow, Database } from '../types.js';
import { ARTIFACT_METADATA } from './artifacts.js';

export interface ArtifactSearchFilter {
  run_id?: string;
  template?: string;
  lane?: string;
  kind?: ArtifactKind;
  content_type?: string;
  /** A name pattern: `*` any run of characters, `?` one; without either, a substring. Case-insensitive. */
  name?: string;
  created_after?: string;
  created_before?: string;
  min_size?: number;
  max_size?: number;
  /** A scoped token's allowlists; absent: every lane, every template. */
  lanes?: string[];
  templates?: string[];
  limit: number;
  cursor?: { created_at: string; id: string };
}

/** A glob as an ILIKE pattern: the glob's own `%`, `_` and `\` match literally. */
export function namePattern(glob: string): string {
  const escaped = glob.replace(/[\\%_]/g, (c) => `\\${c}`);
  const like = escaped.replace(/\*/g, '%').replace(/\?/g, '_');
  return /[*?]/.test(glob) ? like : `%${like}%`;
}

/** Artifact metadata without content (it can be large): what a search answers. */
export type ArtifactSearchRow = Omit<ArtifactRow, 'content'> & { content: null };

/**
 * Artifacts across runs, newest first, keyset-paged on (created_at, id). Every filter is index-backed: an
 * equality filter by its (column, created_at, id) index, the name by the trigram index, size by its btree;
 * template and lane are the artifact's own columns, so no search joins runs. Every value is bound.
 */
function searchQuery(db: Kysely<Database>, f: ArtifactSearchFilter) {
  let q = db
    .selectFrom('artifacts')
    .select(ARTIFACT_METADATA)
    .select(sql<null>`NULL`.as('content'));
  if (f.run_id) q = q.where('run_id', '=', f.run_id);
  if (f.template) q = q.where('template', '=', f.template);
  if (f.lane) q = q.where('lane', '=', f.lane);
  if (f.templates) q = q.where('template', '=', sql<string>`ANY(${f.templates}::text[])`);
  if (f.lanes) q = q.where('lane', '=', sql<string>`ANY(${f.lanes}::text[])`);
  if (f.kind) q = q.where('kind', '=', f.kind);
  if (f.content_type) q = q.where('content_type', '=', f.content_type);
  if (f.name) q = q.where(sql<boolean>`name ILIKE ${namePattern(f.name)}`);
  if (f.created_after) q = q.where('created_at', '>=', new Date(f.created_after));
  if (f.created_before) q = q.where('created_at', '<', new Date(f.created_before));
  if (f.min_size !== undefined) q = q.where('size', '>=', f.min_size);
  if (f.max_size !== undefined) q = q.where('size', '<=', f.max_size);
  if (f.cursor) {
    const { created_at, id } = f.cursor;
    q = q.where(sql<boolean>`(created_at, id) < (${created_at}::timestamptz, ${id}::uuid)`);
  }
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit);
}

export async function searchArtifacts(
  db: Kysely<Database>,
  filter: ArtifactSearchFilter,
): Promise<ArtifactSearchRow[]> {
  return (await searchQuery(db, filter).execute()) as ArtifactSearchRow[];
}

/** The plan PostgreSQL picks for a search (EXPLAIN ANALYZE when `analyze`): tests and the bench read it. */
export async function explainSearchArtifacts(
  db: Kysely<Database>,
  filter: ArtifactSearchFilter,
  analyze = false,
): Promise<string> {
  const rows = await searchQuery(db, filter).explain(undefined, analyze ? sql`analyze` : undefined);
  return rows.map((r) => String(r['QUERY PLAN'])).join('\n');
}
