import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { takePage } from "../../db/page";
import { records } from "../../db/schema";
import { checkEmailAddress } from "../../email/address";
import { AppError, invalid, notFound } from "../../errors";
import { type Model, requireModel } from "./models";

export type RecordRow = typeof records.$inferSelect;
export type Fields = Record<string, unknown>;

export const MAX_BATCH = 1000;
const MAX_ID = 256;
/** UTF-8 bytes of one record's fields as JSON. */
export const MAX_FIELDS_BYTES = 64 * 1024;
/** Levels of nested objects and arrays in a record's fields. */
export const MAX_FIELD_DEPTH = 32;
const FORBIDDEN_KEYS = new Set(["__proto__"]);
/**
 * A statement of a batch upsert carries its records as one JSON parameter, which D1 holds to 2,000,000 bytes (its
 * largest string): a statement takes records until the next would pass 1,900,000 bytes, and at most 250 of them.
 */
const STATEMENT_JSON_BYTES = 1_900_000;
const RECORDS_PER_STATEMENT = 250;

const utf8 = new TextEncoder();

/**
 * Walks the fields without recursion: refuses a key the API could not store as sent (`__proto__` would be dropped or
 * change an object's prototype on the way in or out) and nesting deeper than SQLite's JSON functions handle well.
 */
function checkShape(fields: Fields, path: string) {
  const problem = fieldsShapeProblem(fields, path);
  if (problem) throw invalid(`${problem.at || "body"}: ${problem.problem}`);
}

/** What checkShape refuses, and where (`address.__proto__`, `tags[3]`), or null: for fields saved elsewhere too. */
export function fieldsShapeProblem(fields: unknown, path = ""): { at: string; problem: string } | null {
  const stack: { value: unknown; at: string; depth: number }[] = [{ value: fields, at: path, depth: 0 }];
  const where = (at: string) => at.replace(/\.$/, "");
  while (stack.length > 0) {
    const { value, at, depth } = stack.pop() as { value: unknown; at: string; depth: number };
    if (value === null || typeof value !== "object") continue;
    if (depth >= MAX_FIELD_DEPTH) {
      return { at: where(at), problem: `fields nest deeper than ${MAX_FIELD_DEPTH} levels` };
    }
    if (Array.isArray(value)) {
      value.forEach((v, i) => {
        stack.push({ value: v, at: `${where(at)}[${i}].`, depth: depth + 1 });
      });
      continue;
    }
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key)) {
        return { at: `${at}${key}`, problem: "this field name cannot be stored; rename the field" };
      }
      stack.push({ value: (value as Fields)[key], at: `${at}${key}.`, depth: depth + 1 });
    }
  }
  return null;
}

/** Checks one record's id and fields; `path` prefixes the field names in messages (`records[3].`). */
export function checkRecord(model: Model, id: unknown, fields: unknown, path = ""): { id: string; fields: Fields } {
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_ID) {
    throw invalid(`${path}id: must be a non-empty string of at most ${MAX_ID} characters`);
  }
  if (fields === null || typeof fields !== "object" || Array.isArray(fields)) {
    throw invalid(`${path || "body"}: must be a JSON object of fields`);
  }
  const f = fields as Fields;
  checkShape(f, path);
  const bytes = utf8.encode(JSON.stringify(f)).length;
  if (bytes > MAX_FIELDS_BYTES) {
    throw invalid(`${path || "body"}: fields take ${bytes} bytes as JSON, more than the limit of ${MAX_FIELDS_BYTES}`);
  }
  if (model.name === "party") {
    if (f.email != null) {
      if (typeof f.email !== "string") throw invalid(`${path}email: must be an e-mail address (a string)`);
      const checked = checkEmailAddress(f.email);
      if (!checked.ok) throw invalid(`${path}email: not an address e-mail can be sent to: it ${checked.problem}`);
    }
    if (f.name != null && typeof f.name !== "string") throw invalid(`${path}name: must be a string`);
    if (f.lang != null && (typeof f.lang !== "string" || !/^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$/.test(f.lang))) {
      throw invalid(`${path}lang: must be a language code such as "en" or "fr_FR"`);
    }
    if (f.active != null && typeof f.active !== "boolean") throw invalid(`${path}active: must be true or false`);
  } else if (model.partyField) {
    const party = f[model.partyField];
    if (party != null && typeof party !== "string" && typeof party !== "number") {
      throw invalid(`${path}${model.partyField}: must be the party's id (a string)`);
    }
  }
  return { id, fields: f };
}

function partyIdOf(model: Model, id: string, fields: Fields): string | null {
  if (model.name === "party") return id;
  const value = model.partyField ? fields[model.partyField] : null;
  return value == null ? null : String(value);
}

/** Creates or replaces one record. */
export async function putRecord(
  db: Db,
  modelName: string,
  id: string,
  body: unknown,
  now: number,
): Promise<{ record: RecordRow; created: boolean }> {
  const model = await requireModel(db, modelName, "model");
  const fields = body && typeof body === "object" && !Array.isArray(body) ? { ...(body as Fields) } : body;
  if (fields && typeof fields === "object" && "id" in fields) {
    if ((fields as Fields).id !== id) throw invalid("id: the body's id does not match the URL");
    delete (fields as Fields).id;
  }
  const checked = checkRecord(model, id, fields);
  const row = await db
    .insert(records)
    .values({
      model: model.name,
      id,
      fields: checked.fields,
      partyId: partyIdOf(model, id, checked.fields),
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoUpdate({
      target: [records.model, records.id],
      set: {
        fields: sql`excluded.fields`,
        partyId: sql`excluded.party_id`,
        updatedAt: sql`excluded.updated_at`,
      },
    })
    .returning()
    .get();
  return { record: row, created: row.createdAt === now && row.updatedAt === now && row.createdAt === row.updatedAt };
}

/** A row of a batch refused on its own (partial mode): its index in `records` and why. */
export interface RejectedRow {
  index: number;
  error: string;
}

/**
 * Upserts up to 1,000 records in one call, all or nothing. Rows travel as JSON through one bound parameter a
 * statement (D1 binds at most 100), and the statements run in one D1 batch, which is a transaction.
 */
export async function upsertRecords(db: Db, modelName: string, items: unknown, now: number): Promise<string[]> {
  return (await upsertRecordsChecked(db, modelName, items, now, { partial: false })).stored;
}

/**
 * Upserts a batch; with `partial`, a row that fails its own checks (fields, id, a duplicate id) is left out and
 * reported by index while the good rows are stored (in one D1 batch); without it the first bad row refuses the call.
 * A batch that is not an array, is empty or is too large is refused either way.
 */
export async function upsertRecordsChecked(
  db: Db,
  modelName: string,
  items: unknown,
  now: number,
  o: { partial: boolean },
): Promise<{ stored: string[]; rejected: RejectedRow[] }> {
  const model = await requireModel(db, modelName, "model");
  if (!Array.isArray(items)) throw invalid("records: must be an array");
  if (items.length === 0) throw invalid("records: must hold at least one record");
  if (items.length > MAX_BATCH) throw invalid(`records: at most ${MAX_BATCH} records a call, got ${items.length}`);
  const seen = new Set<string>();
  const rejected: RejectedRow[] = [];
  const rows: { id: string; fields: Fields; party_id: string | null }[] = [];
  items.forEach((item, i) => {
    try {
      if (item === null || typeof item !== "object" || Array.isArray(item)) {
        throw invalid(`records[${i}]: must be an object with an id and fields`);
      }
      const { id, ...rest } = item as Fields;
      const checked = checkRecord(model, id, rest, `records[${i}].`);
      if (seen.has(checked.id)) throw invalid(`records[${i}].id: duplicate id "${checked.id}" in the batch`);
      seen.add(checked.id);
      rows.push({ id: checked.id, fields: checked.fields, party_id: partyIdOf(model, checked.id, checked.fields) });
    } catch (err) {
      if (!o.partial || !(err instanceof AppError) || err.code !== "invalid_input") throw err;
      rejected.push({ index: i, error: err.message });
    }
  });
  if (rows.length === 0) return { stored: [], rejected };
  const d1 = db.$client;
  const statements: D1PreparedStatement[] = [];
  for (const slice of jsonChunks(rows)) {
    statements.push(
      d1
        .prepare(
          `INSERT INTO records (model, id, fields, party_id, created_at, updated_at)
           SELECT ?1, json_extract(value, '$.id'), json(json_extract(value, '$.fields')),
                  json_extract(value, '$.party_id'), ?2, ?2
           FROM json_each(?3) WHERE true
           ON CONFLICT (model, id) DO UPDATE SET
             fields = excluded.fields, party_id = excluded.party_id, updated_at = excluded.updated_at`,
        )
        .bind(model.name, now, slice),
    );
  }
  await d1.batch(statements);
  return { stored: rows.map((r) => r.id), rejected };
}

/** The rows as JSON arrays of at most STATEMENT_JSON_BYTES bytes and RECORDS_PER_STATEMENT rows each. */
function jsonChunks(rows: unknown[]): string[] {
  const chunks: string[] = [];
  let parts: string[] = [];
  let bytes = 2;
  for (const row of rows) {
    const json = JSON.stringify(row);
    const size = utf8.encode(json).length + 1;
    if (parts.length > 0 && (bytes + size > STATEMENT_JSON_BYTES || parts.length >= RECORDS_PER_STATEMENT)) {
      chunks.push(`[${parts.join(",")}]`);
      parts = [];
      bytes = 2;
    }
    parts.push(json);
    bytes += size;
  }
  if (parts.length > 0) chunks.push(`[${parts.join(",")}]`);
  return chunks;
}

export async function getRecord(db: Db, modelName: string, id: string): Promise<RecordRow> {
  await requireModel(db, modelName, "model");
  const row = await db
    .select()
    .from(records)
    .where(and(eq(records.model, modelName), eq(records.id, id)))
    .get();
  if (!row) throw notFound(`${modelName} record`, JSON.stringify(id));
  return row;
}

export async function listRecords(
  db: Db,
  modelName: string,
  page: { limit: number; cursor: string | null },
): Promise<{ items: RecordRow[]; nextCursor: string | null }> {
  await requireModel(db, modelName, "model");
  const items = await db
    .select()
    .from(records)
    .where(and(eq(records.model, modelName), page.cursor === null ? undefined : gt(records.id, page.cursor)))
    .orderBy(asc(records.id))
    .limit(page.limit + 1)
    .all();
  return takePage(items, page.limit, (r) => r.id);
}

export async function deleteRecord(db: Db, modelName: string, id: string): Promise<void> {
  await requireModel(db, modelName, "model");
  const deleted = await db
    .delete(records)
    .where(and(eq(records.model, modelName), eq(records.id, id)))
    .returning({ id: records.id });
  if (deleted.length === 0) throw notFound(`${modelName} record`, JSON.stringify(id));
}
