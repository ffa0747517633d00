/**
 * @module Migration 000012: `annotation_density`, per-slide counts of annotations per grid cell, label, status and
 * visibility, at seven cell sizes (DENSITY_CELLS, 256 to 16,384 level-0 pixels), for zoomed-out viewports.
 *
 * Zoomed out over a million cells, a viewport overlaps hundreds of thousands of shapes: sending them all is slow
 * and sending a capped subset misleads. The hub answers such a viewport with these counts instead (and says so),
 * read from a few hundred rows. A shape counts in the cell holding the centre of its bounds. `hidden` is 1 for
 * work inside a task that is not accepted yet (blind reading hides it from everyone but its author), so a reader's
 * overview never counts other readers' answers.
 *
 * Triggers keep the counts in step with every write to `annotation` (whoever makes it): on PostgreSQL one
 * statement-level trigger per operation over the transition tables (a 500-row INSERT does one grouped upsert per
 * cell size, not 2,000 single-row ones); on SQLite row triggers. Rows whose count falls to 0 are deleted.
 */
import { PostgresAdapter, sql, type Kysely } from 'kysely'
import type { MigrationEnv } from './index.ts'

/** Grid cell sizes in level-0 pixels; the hub's viewport query names them (packages/hub/src/annotations/repository.ts). */
const DENSITY_CELLS = [256, 512, 1024, 2048, 4096, 8192, 16384] as const
const KEY = ['slide_id', 'cell', 'gy', 'gx', 'label_system', 'label_code', 'status', 'hidden'] as const

export async function up(db: Kysely<any>, env: MigrationEnv): Promise<void> {
  const t = sql.raw(env.byteOrderText)
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter
  // The key is the table's order and the count rides in the index (INCLUDE on PostgreSQL, WITHOUT ROWID on SQLite),
  // so a viewport's read is one index range with no table lookups (measured at 1,000,000 annotations: the heap
  // lookups of ~10,000 scattered rows were 30 of 36 ms).
  await db.schema
    .createTable('annotation_density')
    .addColumn('slide_id', t, (c) => c.notNull())
    .addColumn('cell', 'integer', (c) => c.notNull())
    .addColumn('gy', 'integer', (c) => c.notNull())
    .addColumn('gx', 'integer', (c) => c.notNull())
    .addColumn('label_system', t, (c) => c.notNull())
    .addColumn('label_code', t, (c) => c.notNull())
    .addColumn('status', t, (c) => c.notNull())
    .addColumn('hidden', 'integer', (c) => c.notNull())
    .addColumn('n', 'integer', (c) => c.notNull())
    .$call((b) => (postgres ? b : b.addPrimaryKeyConstraint('annotation_density_pkey', [...KEY]).modifyEnd(sql`without rowid`)))
    .execute()
  if (postgres) await sql`alter table annotation_density add constraint annotation_density_pkey primary key (${sql.raw(KEY.join(', '))}) include (n)`.execute(db)

  const cells = sql.raw(DENSITY_CELLS.map((c) => `select ${c} as cell`).join(' union all '))
  const key = sql.raw(KEY.join(', '))
  // The grouped counts of a set of annotation rows (`src`: the table itself, or a trigger's transition table).
  const grouped = (src: string) => sql`select a.slide_id, c.cell,
      cast(floor((a.min_y + a.max_y) / 2 / c.cell) as integer) as gy, cast(floor((a.min_x + a.max_x) / 2 / c.cell) as integer) as gx,
      a.label_system, a.label_code, a.status, case when a.task_id is not null and a.status <> 'accepted' then 1 else 0 end as hidden, count(*) as n
    from ${sql.raw(src)} as a cross join (${cells}) as c where a.slide_id is not null
    group by a.slide_id, c.cell, 3, 4, a.label_system, a.label_code, a.status, 8`
  const join = sql.raw(KEY.map((k) => `d.${k} = g.${k}`).join(' and '))

  await sql`insert into annotation_density (${key}, n) ${grouped('annotation')}`.execute(db)
  // Without statistics PostgreSQL guesses one row and filters the grid rows instead of seeking them (226 ms against
  // 1 ms at 1,000,000 annotations); autovacuum keeps them (and the visibility map index-only scans use) from here.
  if (postgres) await sql`analyze annotation_density`.execute(db)

  if (postgres) {
    await sql`create function annotation_density_apply() returns trigger language plpgsql as $$
      begin
        if tg_op in ('DELETE', 'UPDATE') then
          update annotation_density as d set n = d.n - g.n from (${grouped('old_rows')}) as g where ${join};
          delete from annotation_density as d using (${grouped('old_rows')}) as g where ${join} and d.n <= 0;
        end if;
        if tg_op in ('INSERT', 'UPDATE') then
          insert into annotation_density (${key}, n) ${grouped('new_rows')}
            on conflict (${key}) do update set n = annotation_density.n + excluded.n;
        end if;
        return null;
      end $$`.execute(db)
    await sql`create trigger annotation_density_insert after insert on annotation referencing new table as new_rows for each statement execute function annotation_density_apply()`.execute(db)
    await sql`create trigger annotation_density_update after update on annotation referencing old table as old_rows new table as new_rows for each statement execute function annotation_density_apply()`.execute(db)
    await sql`create trigger annotation_density_delete after delete on annotation referencing old table as old_rows for each statement execute function annotation_density_apply()`.execute(db)
    return
  }
  // SQLite: one row at a time. `where true` keeps the upsert's ON CONFLICT from parsing as a join constraint.
  const one = (row: 'new' | 'old') => sql`select ${sql.raw(row)}.slide_id as slide_id, c.cell as cell,
      cast(floor((${sql.raw(row)}.min_y + ${sql.raw(row)}.max_y) / 2 / c.cell) as integer) as gy, cast(floor((${sql.raw(row)}.min_x + ${sql.raw(row)}.max_x) / 2 / c.cell) as integer) as gx,
      ${sql.raw(row)}.label_system as label_system, ${sql.raw(row)}.label_code as label_code, ${sql.raw(row)}.status as status,
      case when ${sql.raw(row)}.task_id is not null and ${sql.raw(row)}.status <> 'accepted' then 1 else 0 end as hidden
    from (${cells}) as c where ${sql.raw(row)}.slide_id is not null`
  const add = sql`insert into annotation_density (${key}, n) select *, 1 from (${one('new')}) where true on conflict (${key}) do update set n = n + 1;`
  const sub = sql`update annotation_density as d set n = n - 1 where exists (select 1 from (${one('old')}) as g where ${join});
    delete from annotation_density as d where n <= 0 and exists (select 1 from (${one('old')}) as g where ${join});`
  await sql`create trigger annotation_density_insert after insert on annotation begin ${add} end`.execute(db)
  await sql`create trigger annotation_density_update after update of slide_id, min_x, min_y, max_x, max_y, label_system, label_code, status, task_id on annotation begin ${sub} ${add} end`.execute(db)
  await sql`create trigger annotation_density_delete after delete on annotation begin ${sub} end`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter
  for (const op of ['insert', 'update', 'delete']) await sql`drop trigger if exists ${sql.raw(`annotation_density_${op}`)}${sql.raw(postgres ? ' on annotation' : '')}`.execute(db)
  if (postgres) await sql`drop function if exists annotation_density_apply()`.execute(db)
  await db.schema.dropTable('annotation_density').execute()
}
