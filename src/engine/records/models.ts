import { eq } from "drizzle-orm";
import type { Db } from "../../db/client";
import { models } from "../../db/schema";
import { conflict, invalid } from "../../errors";

export type Model = typeof models.$inferSelect;

const NAME = /^[a-z][a-z0-9_]{0,62}$/;

export async function listModels(db: Db): Promise<Model[]> {
  return db.select().from(models).orderBy(models.name);
}

/** Models are never changed or removed once declared, so a model found once is remembered for the isolate's life. */
const known = new Map<string, Model>();

export async function getModel(db: Db, name: string): Promise<Model | undefined> {
  const cached = known.get(name);
  if (cached) return cached;
  const model = await db.select().from(models).where(eq(models.name, name)).get();
  if (model) known.set(name, model);
  return model;
}

/** A model that must exist; `field` names the input that referred to it. */
export async function requireModel(db: Db, name: string, field: string): Promise<Model> {
  const model = await getModel(db, name);
  if (!model) throw invalid(`${field}: unknown model "${name}" (declare it with POST /api/models)`);
  return model;
}

/**
 * Declares a model whose records name their party in `partyField`. Declaring the same model again with the same
 * party field changes nothing; with another, it is a conflict (existing records were indexed by the old field).
 */
export async function declareModel(
  db: Db,
  input: { name: string; partyField: string },
  now: number,
): Promise<{ model: Model; created: boolean }> {
  if (!NAME.test(input.name)) {
    throw invalid("name: must be lowercase letters, digits and underscores, starting with a letter (at most 63)");
  }
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(input.partyField)) {
    throw invalid("party_field: must be a field name (letters, digits, underscores)");
  }
  const existing = await getModel(db, input.name);
  if (existing) {
    if (existing.partyField === input.partyField) return { model: existing, created: false };
    throw conflict(`model "${input.name}" already exists with party_field "${existing.partyField ?? "(itself)"}"`);
  }
  const model = { name: input.name, partyField: input.partyField, createdAt: now };
  await db.insert(models).values(model).onConflictDoNothing();
  return { model, created: true };
}
