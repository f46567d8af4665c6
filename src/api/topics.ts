import { createRoute, z } from "@hono/zod-openapi";
import type { Preferences } from "../engine/recipients/preferences";
import { getPreferences, setPreferences } from "../engine/recipients/preferences";
import { getSettings, updateSettings } from "../engine/recipients/settings";
import {
  deleteTopic,
  getTopic,
  listTopics,
  putTopic,
  type Topic,
  topicScenarioCounts,
} from "../engine/recipients/topics";
import { getRecord } from "../engine/records/records";
import { router } from "../http/router";
import { iso } from "../ids";
import { errorResponses, FrequencyCap, json, jsonBody, listOf, Timestamp } from "./schemas";

const TopicParam = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: "newsletter" }),
});
const PartyParam = z.object({
  id: z
    .string()
    .max(300)
    .openapi({ param: { name: "id", in: "path" }, example: "michael" }),
});

const TopicOut = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    scenario_count: z.number().int(),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi("Topic");

const TopicInput = z
  .object({
    name: z.string().min(1).max(200).openapi({ example: "Newsletter" }),
    description: z.string().max(1000).nullable().default(null),
  })
  .strict()
  .openapi("TopicInput");

const PreferencesOut = z
  .object({
    party_id: z.string(),
    all_opted_out: z.boolean().openapi({ description: "opted out of every topic, present and future" }),
    topics: z.array(
      z.object({ id: z.string(), name: z.string(), description: z.string().nullable(), subscribed: z.boolean() }),
    ),
  })
  .openapi("Preferences");

const PreferencesInput = z
  .object({
    topics: z
      .record(z.string(), z.boolean())
      .optional()
      .openapi({ example: { offers: false } }),
    all_opted_out: z.boolean().optional(),
  })
  .strict()
  .openapi("PreferencesInput");

const SettingsOut = z.object({ frequency_cap: FrequencyCap.nullable() }).openapi("Settings");

const presentTopic = (t: Topic, counts: Map<string, number>) => ({
  id: t.id,
  name: t.name,
  description: t.description,
  scenario_count: counts.get(t.id) ?? 0,
  created_at: iso(t.createdAt) as string,
  updated_at: iso(t.updatedAt) as string,
});

const presentPreferences = (p: Preferences) => ({
  party_id: p.partyId,
  all_opted_out: p.allOptedOut,
  topics: p.topics,
});

/** Topics, a party's preferences (what its preference page shows and changes) and the service-wide settings. */
export const topicsApi = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/topics",
      tags: ["Topics"],
      summary: "Every topic, with how many scenarios it tags",
      description:
        "The topics recipients can opt out of in the preference centre, each with the number of scenarios it tags.",
      responses: { 200: json(listOf(TopicOut, "TopicList"), "The topics"), 401: errorResponses[401] },
    }),
    async (c) => {
      const e = c.get("engine");
      const [items, counts] = await Promise.all([listTopics(e), topicScenarioCounts(e)]);
      return c.json({ items: items.map((t) => presentTopic(t, counts)), next_cursor: null }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "put",
      path: "/topics/{id}",
      tags: ["Topics"],
      summary: "Create or replace a topic (its id is yours: newsletter, offers)",
      description:
        "Topics tag scenarios; a recipient who opts out of a topic gets none of its scenarios' e-mails (docs/recipients.md).",
      request: { params: TopicParam, body: jsonBody(TopicInput) },
      responses: { 200: json(TopicOut, "The topic"), 400: errorResponses[400], 401: errorResponses[401] },
    }),
    async (c) => {
      const e = c.get("engine");
      const topic = await putTopic(e, c.req.valid("param").id, c.req.valid("json"));
      return c.json(presentTopic(topic, await topicScenarioCounts(e)), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/topics/{id}",
      tags: ["Topics"],
      summary: "One topic",
      description: "The topic's name and description; 404 when there is none.",
      request: { params: TopicParam },
      responses: { 200: json(TopicOut, "The topic"), 401: errorResponses[401], 404: errorResponses[404] },
    }),
    async (c) => {
      const e = c.get("engine");
      const topic = await getTopic(e, c.req.valid("param").id);
      return c.json(presentTopic(topic, await topicScenarioCounts(e)), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/topics/{id}",
      tags: ["Topics"],
      summary: "Delete a topic: scenarios are no longer tagged with it and opt-outs of it are forgotten",
      description: "Untags every scenario and forgets the opt-outs of the topic.",
      request: { params: TopicParam },
      responses: { 204: { description: "Deleted" }, 401: errorResponses[401], 404: errorResponses[404] },
    }),
    async (c) => {
      await deleteTopic(c.get("engine"), c.req.valid("param").id);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/parties/{id}/preferences",
      tags: ["Topics"],
      summary: "A party's state for every topic",
      description: "Whether the party receives each topic, and whether it opted out of everything.",
      request: { params: PartyParam },
      responses: { 200: json(PreferencesOut, "The preferences"), 401: errorResponses[401] },
    }),
    async (c) => c.json(presentPreferences(await getPreferences(c.get("engine"), c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/parties/{id}/preferences",
      tags: ["Topics"],
      summary:
        "Opt a party in or out of topics (or out of all): an opted-out topic stops its scenarios for the party, " +
        "cancelling their waiting record activities",
      description:
        "The party must exist (`PUT /api/records/party/{id}` first): an unknown id answers 404, so a typo is not " +
        "a silent no-op. The same change as the recipient's own preference centre makes, on the party's behalf.",
      request: { params: PartyParam, body: jsonBody(PreferencesInput) },
      responses: {
        200: json(PreferencesOut, "The new preferences"),
        400: errorResponses[400],
        401: errorResponses[401],
        404: errorResponses[404],
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const e = c.get("engine");
      const { id } = c.req.valid("param");
      await getRecord(e.db, "party", id);
      const prefs = await setPreferences(e, id, {
        topics: body.topics,
        allOptedOut: body.all_opted_out,
      });
      return c.json(presentPreferences(prefs), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/settings",
      tags: ["Settings"],
      summary: "Service-wide settings: the frequency cap across every scenario",
      description: "The frequency cap that holds across every scenario (null when none).",
      responses: { 200: json(SettingsOut, "The settings"), 401: errorResponses[401] },
    }),
    async (c) => {
      const s = await getSettings(c.get("engine"));
      return c.json({ frequency_cap: s.frequencyCap }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/settings",
      tags: ["Settings"],
      summary: "Change service-wide settings (frequency_cap null removes the global cap)",
      description: "Sets or removes the global frequency cap; a scenario's own cap applies on top of it.",
      request: { body: jsonBody(z.object({ frequency_cap: FrequencyCap.nullable() }).partial().strict()) },
      responses: { 200: json(SettingsOut, "The settings"), 400: errorResponses[400], 401: errorResponses[401] },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const s = await updateSettings(c.get("engine"), { frequencyCap: body.frequency_cap });
      return c.json({ frequency_cap: s.frequencyCap }, 200);
    },
  );
