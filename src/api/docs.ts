import { html, raw } from "hono/html";

interface Operation {
  summary?: string;
  tags?: string[];
  /** Named parameters, and `$ref`s to the shared ones (the x-d1-bookmark header, said once at the top). */
  parameters?: ({ name: string; in: string; required?: boolean; description?: string } | { $ref: string })[];
  requestBody?: { content?: Record<string, { schema?: { $ref?: string } }> };
  responses?: Record<string, { description?: string }>;
}

type Document = { info: { title: string; version: string }; paths: Record<string, Record<string, Operation>> };

const schemaName = (ref: string | undefined) => ref?.split("/").pop() ?? "";

/**
 * A browsable, self-contained page for the OpenAPI document: no external script or style, so it works offline and
 * under a strict Content-Security-Policy. The JSON document itself is at /api/openapi.json.
 */
export function docsPage(doc: Document) {
  const byTag = new Map<string, { method: string; path: string; op: Operation }[]>();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = op.tags?.[0] ?? "Other";
      const list = byTag.get(tag) ?? [];
      list.push({ method: method.toUpperCase(), path, op });
      byTag.set(tag, list);
    }
  }
  const named = (op: Operation) => (op.parameters ?? []).filter((p) => "name" in p);
  const sections = [...byTag].map(
    ([tag, ops]) => html`<section>
      <h2 id="${tag.toLowerCase()}">${tag}</h2>
      ${ops.map(
        ({ method, path, op }) => html`<details>
          <summary><code class="m">${method}</code> <code>${path}</code> — ${op.summary ?? ""}</summary>
          ${
            named(op).length
              ? html`<p>Parameters: ${named(op).map(
                  (p) => html`<code>${p.name}</code> (${p.in}${p.required ? ", required" : ""}) `,
                )}</p>`
              : ""
          }
          ${
            op.requestBody
              ? html`<p>Body: <code>${schemaName(op.requestBody.content?.["application/json"]?.schema?.$ref)}</code></p>`
              : ""
          }
          <p>Responses: ${Object.entries(op.responses ?? {}).map(
            ([status, r]) => html`<code>${status}</code> ${r.description ?? ""}; `,
          )}</p>
        </details>`,
      )}
    </section>`,
  );
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${doc.info.title} — API</title>
<style>${raw(`body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
code{font:14px ui-monospace,monospace;background:#f2f2f2;padding:0 .25rem;border-radius:3px}
code.m{font-weight:700}details{border-bottom:1px solid #ddd;padding:.4rem 0}summary{cursor:pointer}`)}</style>
</head>
<body>
<main>
<h1>${doc.info.title} <small>${doc.info.version}</small></h1>
<p>Every call needs <code>Authorization: Bearer &lt;ADMIN_TOKEN&gt;</code>. Errors are
<code>{"error": {"code", "message"}}</code>. The machine-readable document is <a href="/api/openapi.json">/api/openapi.json</a>.
Any call may send <code>x-d1-bookmark</code> (<code>first-unconstrained</code>, or the bookmark an earlier answer gave in
the same header) to read its own writes from a D1 replica.</p>
${sections}
</main>
</body>
</html>`;
}
