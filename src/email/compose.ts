import type { Address, Config } from "../env";
import type { OutgoingEmail } from "../mail/transport";
import { pickLanguage } from "../recipients/language";
import { signKey } from "../signing/keys";
import { derivedMessageId } from "./columns";
import { displayAddress, rfc5322Date } from "./headers";
import type { EmailJob } from "./job";
import { buildMime } from "./mime";
import { ComposeError, renderBody, renderSubject, templateView } from "./render";
import { rewriteHtml, type TrackingLink } from "./rewrite";
import { domainOf, recipientOf, sendersOf } from "./sender";
import { htmlToText } from "./text";

export interface ComposedEmail extends OutgoingEmail {
  /** The message's headers as archived, decoded: name → value. */
  headers: Record<string, string>;
  /** Keys written into the body; their URLs are kept in the e-mail's `link_urls`, by position. */
  links: TrackingLink[];
}

/**
 * Builds one e-mail without any I/O: render, rewrite links, plain text, MIME. `emailId` is the id its archive row will
 * have (reserved beforehand), which its tracking keys name. Throws a ComposeError (a permanent failure) when the party
 * has no usable address or a template cannot be rendered.
 */
export async function composeEmail(
  job: EmailJob,
  config: Config,
  now: number,
  emailId: number,
): Promise<ComposedEmail> {
  const to = recipientOf(job.party);
  if ("problem" in to) throw new ComposeError(to.problem);
  const view = templateView(job);
  const version = languageVersion(job.activity, job.party?.fields.lang);
  const subject = renderSubject(version.title, view);
  const rendered = renderBody(version.template, view);
  const token = job.scenarioRecord.token;
  const { html, links } = await rewriteHtml(rendered, {
    automationBase: config.automationBase,
    token,
    linkKey: (kind, position) => signKey(config.trackingSecret, { emailId, kind, position }),
    openPixel: job.activity.openTracking !== false,
  });
  const text = htmlToText(html);
  const { from, replyTo } = sendersOf(job.activity.emailFrom, config.emailFrom);
  // Derived from the e-mail's id, so its row stores none (src/email/columns.ts).
  const messageId = await derivedMessageId(config.trackingSecret, emailId, domainOf(from.address));
  const listHeaders = {
    "List-Id": listId(job.scenario.id, domainOf(from.address)),
    "List-Unsubscribe": `<${config.automationBase}/u/${token}>`,
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    ...(version.lang ? { "Content-Language": version.lang.replace(/_/g, "-") } : {}),
  };
  let raw: string;
  try {
    raw = buildMime({ from, to, replyTo, subject, html, text, messageId, date: now, headers: listHeaders });
  } catch (err) {
    throw new ComposeError(`the e-mail cannot be built: ${err instanceof Error ? err.message : String(err)}`);
  }
  const headers: Record<string, string> = {
    From: displayAddress(from),
    To: displayAddress(to),
    ...(replyTo ? { "Reply-To": displayAddress(replyTo) } : {}),
    Subject: subject,
    Date: rfc5322Date(now),
    "Message-ID": messageId,
    "MIME-Version": "1.0",
    ...listHeaders,
  };
  return { from, to, replyTo, subject, html, text, raw, messageId, listHeaders, headers, links };
}

/**
 * RFC 2919's List-Id: every e-mail of a scenario belongs to one list, `<scenario-{id}.{domain of From}>`, under the
 * sender's own domain (the namespace the RFC asks for). No description phrase: a scenario's name is the marketers' own
 * and is not shown to recipients. Mail clients and filters group and score the scenario's mail by it.
 */
export function listId(scenarioId: number, fromDomain: string): string {
  return `<scenario-${scenarioId}.${fromDomain.toLowerCase()}>`;
}

type VersionSource = Pick<EmailJob["activity"], "emailTitle" | "emailTemplate" | "emailTranslations">;

/**
 * The subject and body in the party's language: the first version on its fallback chain (`fr_CA` → `fr`), else the
 * activity's own (`lang: null`).
 */
export function languageVersion(
  a: VersionSource,
  lang: unknown,
): { lang: string | null; title: string; template: string } {
  const translations = a.emailTranslations ?? {};
  const picked = pickLanguage(lang, Object.keys(translations));
  const version = picked === null ? undefined : translations[picked];
  if (picked === null || !version) return { lang: null, title: a.emailTitle, template: a.emailTemplate };
  return { lang: picked, title: version.email_title, template: version.email_template };
}

export interface EmailPreview {
  /** The language version shown (a key of `email_translations`); null for the activity's default version. */
  lang: string | null;
  subject: string;
  from: Address;
  to: Address | null;
  replyTo: Address | null;
  html: string;
  text: string;
}

/**
 * Renders an activity's e-mail for one record without sending it: no keys, no archive. Links keep their original URL,
 * unsubscribe links point at `/u/preview`, and there is no open pixel. A party without an address gives `to: null`.
 */
export async function previewEmail(
  source: Pick<EmailJob, "record" | "party" | "scenario" | "activity">,
  config: Config,
  lang: unknown = source.party?.fields.lang,
): Promise<EmailPreview> {
  const view = templateView(source);
  const version = languageVersion(source.activity, lang);
  const subject = renderSubject(version.title, view);
  const rendered = renderBody(version.template, view);
  const { html } = await rewriteHtml(rendered, { automationBase: config.automationBase, token: null });
  const to = recipientOf(source.party);
  const { from, replyTo } = sendersOf(source.activity.emailFrom, config.emailFrom);
  return { lang: version.lang, subject, from, to: "problem" in to ? null : to, replyTo, html, text: htmlToText(html) };
}
