import { createRoute, z } from "@hono/zod-openapi";
import { declareModel, listModels } from "../engine/records/models";
import { router } from "../http/router";
import { presentModel } from "./present";
import { errorResponses, json, jsonBody, listOf, Model } from "./schemas";

const ModelInput = z
  .object({
    name: z.string().openapi({ example: "subscription" }),
    party_field: z
      .string()
      .openapi({ example: "customer", description: "field of the records holding the party's id" }),
  })
  .strict()
  .openapi("ModelInput");

export const modelsApi = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/models",
      tags: ["Records"],
      summary: "List the models (party and sale are built in)",
      description:
        "Every model records can be pushed to, with the field that names each record's party. Models are what scenarios select (docs/domain.md).",
      responses: { 200: json(listOf(Model, "ModelList"), "The models"), 401: errorResponses[401] },
    }),
    async (c) => {
      const items = await listModels(c.get("engine").db);
      return c.json({ items: items.map(presentModel), next_cursor: null }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/models",
      tags: ["Records"],
      summary: "Declare a model whose records name their party in party_field",
      description:
        "Declares a new model. Its records name their party in party_field, which e-mail activities send to. 409 when the model exists.",
      request: { body: jsonBody(ModelInput) },
      responses: {
        200: json(Model, "Already declared, identically"),
        201: json(Model, "Declared"),
        400: errorResponses[400],
        401: errorResponses[401],
        409: errorResponses[409],
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const { model, created } = await declareModel(
        c.get("engine").db,
        { name: body.name, partyField: body.party_field },
        Date.now(),
      );
      return c.json(presentModel(model), created ? 201 : 200);
    },
  );
