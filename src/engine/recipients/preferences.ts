import { ALL_TOPICS } from "../../db/schema";
import { invalid } from "../../errors";
import type { Engine } from "../ports";
import { cancelOptedOut } from "../record-activities/transitions";
import { listTopics } from "./topics";

export interface TopicPreference {
  id: string;
  name: string;
  description: string | null;
  subscribed: boolean;
}

export interface Preferences {
  partyId: string;
  /** Opted out of every topic, present and future. */
  allOptedOut: boolean;
  topics: TopicPreference[];
}

/** A party's state for every topic. A party nobody pushed yet has preferences too (all subscribed). */
export async function getPreferences(e: Engine, partyId: string): Promise<Preferences> {
  const [all, { results }] = await Promise.all([
    listTopics(e),
    e.d1.prepare("SELECT topic_id FROM topic_opt_outs WHERE party_id = ?").bind(partyId).all<{ topic_id: string }>(),
  ]);
  const out = new Set(results.map((r) => r.topic_id));
  const allOptedOut = out.has(ALL_TOPICS);
  return {
    partyId,
    allOptedOut,
    topics: all.map((t) => ({
      id: t.id,
      name: t.name,
      description: t.description,
      subscribed: !allOptedOut && !out.has(t.id),
    })),
  };
}

export interface PreferenceChange {
  /** Topic id → subscribed. Topics not named keep their state. */
  topics?: Record<string, boolean>;
  /** true: opt out of every topic, present and future; false: lift that (the per-topic choices stay). */
  allOptedOut?: boolean;
}

/**
 * Changes a party's topic preferences, idempotently. Opting out stops that topic's scenarios for the party: it is no
 * longer enrolled in them, and its waiting record activities in them are cancelled with the reason, in the same
 * batch. Opting back in lets it be enrolled again in the scenarios it never entered; what was cancelled stays so.
 * When every topic is named and `allOptedOut` is false, the "all" opt-out is lifted first (the page's form).
 */
export async function setPreferences(e: Engine, partyId: string, change: PreferenceChange): Promise<Preferences> {
  if (!partyId || partyId.length > 300) throw invalid("party: not a party id");
  const named = Object.entries(change.topics ?? {});
  if (named.length > 0) {
    const { results } = await e.d1
      .prepare("SELECT id FROM topics WHERE id IN (SELECT value FROM json_each(?))")
      .bind(JSON.stringify(named.map(([id]) => id)))
      .all<{ id: string }>();
    const known = new Set(results.map((r) => r.id));
    for (const [id] of named) if (!known.has(id)) throw invalid(`topics.${id}: topic "${id}" does not exist`);
  }
  const now = Date.now();
  const optOut = named.filter(([, subscribed]) => !subscribed).map(([id]) => id);
  const optIn = named.filter(([, subscribed]) => subscribed).map(([id]) => id);
  if (change.allOptedOut === true) optOut.push(ALL_TOPICS);
  if (change.allOptedOut === false) optIn.push(ALL_TOPICS);
  // Opting in to a topic while opted out of all: the others stay out, one by one.
  if (optIn.length > 0 && change.allOptedOut !== true) {
    const current = await getPreferences(e, partyId);
    if (current.allOptedOut && !optIn.includes(ALL_TOPICS)) {
      optIn.push(ALL_TOPICS);
      for (const t of current.topics) if (!optIn.includes(t.id) && !optOut.includes(t.id)) optOut.push(t.id);
    }
  }
  await e.d1.batch([
    e.d1
      .prepare("DELETE FROM topic_opt_outs WHERE party_id = ? AND topic_id IN (SELECT value FROM json_each(?))")
      .bind(partyId, JSON.stringify(optIn)),
    e.d1
      .prepare(
        "INSERT OR IGNORE INTO topic_opt_outs (party_id, topic_id, created_at) SELECT ?, value, ? FROM json_each(?)",
      )
      .bind(partyId, now, JSON.stringify(optOut)),
    cancelOptedOut(e.d1, partyId, now),
    // Opting back in: the running scenarios of those topics may now enroll the party's records, so they owe a pass.
    ...(optIn.length > 0 ? [oweTopicPasses(e.d1, optIn)] : []),
  ]);
  return getPreferences(e, partyId);
}

/** The running scenarios tagged with one of `topicIds` (any tagged one for `*`) owe an enrollment pass (passes.ts). */
function oweTopicPasses(d1: D1Database, topicIds: string[]) {
  return d1
    .prepare(
      `UPDATE scenarios SET enroll_pending = enroll_pending + 1, enroll_pending_since = 0
       WHERE state = 'running' AND id IN (SELECT scenario_id FROM scenario_topics
                                          WHERE topic_id IN (SELECT value FROM json_each(?1)) OR ?2)`,
    )
    .bind(JSON.stringify(topicIds), topicIds.includes(ALL_TOPICS) ? 1 : 0);
}

/** SQL: 1 when the party `partyExpr` opted out of a topic of scenario `scenarioExpr`. */
export const OPTED_OUT = (scenarioExpr: string, partyExpr: string) =>
  `EXISTS (SELECT 1 FROM scenario_topics st JOIN topic_opt_outs o
                 ON o.party_id = ${partyExpr} AND (o.topic_id = st.topic_id OR o.topic_id = '${ALL_TOPICS}')
           WHERE st.scenario_id = ${scenarioExpr})`;
