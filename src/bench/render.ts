import Mustache from "mustache";
import { composeEmail } from "../email/compose";
import type { EmailJob } from "../email/job";
import { renderBody, templateView } from "../email/render";
import { rewriteHtml } from "../email/rewrite";
import type { Config } from "../env";
import { signKey } from "../signing/keys";

const WORDS =
  "Thank you for shopping with us this season. Our team picked a few things we think you will like, from the new " +
  "autumn range to the classics that keep coming back. Every order ships within two days and returns are free for " +
  "thirty days. ";

/** A realistic newsletter: a few hundred words, ten links, an unsubscribe link, variables from the record and party. */
export const REALISTIC_TEMPLATE = `<!doctype html><html><head><meta charset="utf-8"><title>{{scenario.name}}</title></head>
<body style="font-family:sans-serif">
<h1>Hello {{party.name}},</h1>
${Array.from(
  { length: 10 },
  (_, i) =>
    `<p>${WORDS.repeat(i % 3 === 0 ? 2 : 1)}<a href="https://shop.example/products/${i}?ref={{record.id}}&amp;utm_source=mail">Product ${i}</a></p>`,
).join("\n")}
<p>Your order {{record.id}} of {{record.amount}} EUR is on its way.</p>
<p><a href="mailto:help@shop.example">Write to us</a> · <a href="unsubscribe|https://shop.example/bye">Unsubscribe</a></p>
</body></html>`;

const job: EmailJob = {
  recordActivityId: 1,
  attempt: 1,
  scenario: { id: 1, name: "Autumn newsletter" },
  activity: {
    id: 1,
    name: "Newsletter",
    emailFrom: null,
    emailTitle: "Autumn picks for {{party.name}}",
    emailTemplate: REALISTIC_TEMPLATE,
  },
  scenarioRecord: { id: 1, token: "0123456789abcdef0123456789abcdef" },
  record: { model: "sale", id: "SO-1042", fields: { amount: 120, party: "michael" } },
  party: { id: "michael", fields: { name: "Michael Scott", email: "michael@example.com", lang: "en" } },
};

export type RenderMode = "bare" | "rewrite" | "compose";

/**
 * Runs `n` renders of the realistic template: bare mustache, render + link rewriting, or whole e-mails (text and MIME
 * too). The caller times the request from outside: workerd's clock does not advance during pure computation.
 */
export async function runRenders(config: Config, mode: RenderMode, n: number): Promise<number> {
  const view = templateView(job);
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    if (mode === "bare") bytes += Mustache.render(REALISTIC_TEMPLATE, view).length;
    else if (mode === "rewrite") {
      const rendered = renderBody(REALISTIC_TEMPLATE, view);
      const linkKey = (kind: "click" | "open" | "next", position: number) =>
        signKey(config.trackingSecret, { emailId: i + 1, kind, position });
      bytes += (await rewriteHtml(rendered, { automationBase: config.automationBase, token: "t", linkKey })).html
        .length;
    } else bytes += (await composeEmail(job, config, Date.now(), i + 1)).raw.length;
  }
  return bytes;
}
