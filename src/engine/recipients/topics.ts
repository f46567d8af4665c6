import { asc, eq, sql } from "drizzle-orm";
import { ALL_TOPICS, scenarioTopics, topics } from "../../db/schema";
import { invalid, notFound } from "../../errors";
import type { Engine } from "../ports";

export type Topic = typeof topics.$inferSelect;

const TOPIC_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Creates or replaces a topic (`PUT /api/topics/{id}`); its scenarios and the opt-outs of it are kept. */
export async function putTopic(e: Engine, id: string, input: { name: string; description: string | null }) {
  if (!TOPIC_ID.test(id)) throw invalid(`id: "${id}" must be lower-case letters, digits, "-" or "_" (up to 64)`);
  if (!input.name.trim()) throw invalid("name: must not be empty");
  const now = Date.now();
  return e.db
    .insert(topics)
    .values({ id, name: input.name, description: input.description, createdAt: now, updatedAt: now })
    .onConflictDoUpdate({
      target: topics.id,
      set: { name: input.name, description: input.description, updatedAt: now },
    })
    .returning()
    .get();
}

export async function listTopics(e: Engine): Promise<Topic[]> {
  return e.db.select().from(topics).orderBy(asc(topics.id)).all();
}

export async function getTopic(e: Engine, id: string): Promise<Topic> {
  const row = await e.db.select().from(topics).where(eq(topics.id, id)).get();
  if (!row) throw notFound("topic", JSON.stringify(id));
  return row;
}

/** Deletes a topic: its scenarios are no longer tagged with it, and opt-outs of it are forgotten. */
export async function deleteTopic(e: Engine, id: string): Promise<void> {
  await getTopic(e, id);
  await e.d1.batch([
    e.d1.prepare("DELETE FROM topic_opt_outs WHERE topic_id = ?").bind(id),
    e.d1.prepare("DELETE FROM topics WHERE id = ?").bind(id),
  ]);
}

/** The topics of each scenario, in id order. */
export async function topicsOfScenarios(e: Engine, scenarioIds: number[]): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>(scenarioIds.map((id) => [id, []]));
  if (scenarioIds.length === 0) return out;
  const { results } = await e.d1
    .prepare(
      "SELECT scenario_id, topic_id FROM scenario_topics WHERE scenario_id IN (SELECT value FROM json_each(?)) ORDER BY topic_id",
    )
    .bind(JSON.stringify(scenarioIds))
    .all<{ scenario_id: number; topic_id: string }>();
  for (const r of results) out.get(r.scenario_id)?.push(r.topic_id);
  return out;
}

/** Checks that every topic exists (a 400 naming the first that does not). */
export async function checkTopicsExist(e: Engine, ids: string[], field = "topics") {
  if (ids.length === 0) return;
  const { results } = await e.d1
    .prepare("SELECT id FROM topics WHERE id IN (SELECT value FROM json_each(?))")
    .bind(JSON.stringify(ids))
    .all<{ id: string }>();
  const known = new Set(results.map((r) => r.id));
  ids.forEach((id, i) => {
    if (id === ALL_TOPICS || !known.has(id)) throw invalid(`${field}[${i}]: topic "${id}" does not exist`);
  });
}

/** Statements replacing a scenario's topics (to run in the same batch as the scenario's own write). */
export function setScenarioTopicsStatements(e: Engine, scenarioId: number, ids: string[]) {
  return [
    e.d1.prepare("DELETE FROM scenario_topics WHERE scenario_id = ?").bind(scenarioId),
    e.d1
      .prepare("INSERT OR IGNORE INTO scenario_topics (scenario_id, topic_id) SELECT ?, value FROM json_each(?)")
      .bind(scenarioId, JSON.stringify([...new Set(ids)])),
  ];
}

/** How many scenarios each topic tags. */
export async function topicScenarioCounts(e: Engine): Promise<Map<string, number>> {
  const rows = await e.db
    .select({ topicId: scenarioTopics.topicId, n: sql<number>`count(*)` })
    .from(scenarioTopics)
    .groupBy(scenarioTopics.topicId)
    .all();
  return new Map(rows.map((r) => [r.topicId, r.n]));
}
