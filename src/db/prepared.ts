import { CompiledQuery, type QueryResult } from 'kysely';
import type { Executor } from './create-db';

/**
 * Precompiled SQL for hot paths: the statement text is fixed once per dialect and each call only
 * binds its values, so no query tree is built, transformed and compiled per call (Kysely's builder
 * cost about a fifth of the delivery hot path's CPU). The text is written once with `?` placeholders,
 * in SQL both dialects read alike; PostgreSQL gets `$1…$n`. On SQLite the store's statement cache then
 * reuses the prepared statement as well.
 *
 * Only for small, fixed statements: anything with a varying shape stays on the query builder.
 */
export class PreparedSql {
  readonly text: string;

  constructor(portable: string, dialect: 'sqlite' | 'postgres') {
    const flat = portable.replace(/\s+/g, ' ').trim();
    if (dialect === 'sqlite') this.text = flat;
    else {
      let n = 0;
      this.text = flat.replace(/\?/g, () => `$${++n}`);
    }
  }

  run<R>(db: Executor, parameters: readonly unknown[]): Promise<QueryResult<R>> {
    return db.executeQuery<R>(CompiledQuery.raw(this.text, parameters as unknown[]));
  }

  /** Rows changed by an UPDATE / DELETE. */
  async changes(db: Executor, parameters: readonly unknown[]): Promise<number> {
    const res = await this.run(db, parameters);
    return Number(res.numAffectedRows ?? 0n);
  }
}

/** The dialect of a Kysely instance, read from how it compiles a placeholder (public API only). */
export function dialectOf(db: Executor): 'sqlite' | 'postgres' {
  const probe = db.selectFrom('posts').select('id').where('id', '=', '').compile().sql;
  return probe.includes('$1') ? 'postgres' : 'sqlite';
}
