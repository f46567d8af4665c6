import Mustache from "mustache";
import type { EmailJob } from "./job";

/** A template that cannot be rendered (or an e-mail that cannot be built): a permanent failure with this reason. */
export class ComposeError extends Error {
  override name = "ComposeError";
}

/** What the templates see. Ids are strings, as everywhere in the API. */
export interface TemplateView {
  record: Record<string, unknown>;
  party: Record<string, unknown>;
  scenario: { id: string; name: string };
  activity: { id: string; name: string };
}

type ViewSource = Pick<EmailJob, "record" | "party" | "scenario"> & {
  activity: { id: number; name: string };
};

export function templateView(job: ViewSource): TemplateView {
  return {
    record: { ...job.record.fields, id: job.record.id },
    party: job.party ? { ...job.party.fields, id: job.party.id } : {},
    scenario: { id: String(job.scenario.id), name: job.scenario.name },
    activity: { id: String(job.activity.id), name: job.activity.name },
  };
}

const noEscape = (text: string) => text;

/**
 * Renders the subject: plain text, so `{{x}}` is not HTML-escaped (an `&` stays an `&`). Line breaks would end the
 * header, so runs of whitespace containing one are folded into a space. Only this call disables escaping: the global
 * `Mustache.escape` is left alone.
 */
export function renderSubject(template: string, view: TemplateView): string {
  const text = render(template, view, noEscape, "subject");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must go
  return text.replace(/[\s\u0000-\u001f\u007f]+/g, " ").trim();
}

/** Renders the HTML body: `{{x}}` escapes HTML (and `/`, `=`, backquotes), `{{{x}}}` does not. */
export function renderBody(template: string, view: TemplateView): string {
  return render(template, view, Mustache.escape, "template");
}

function render(template: string, view: TemplateView, escapeValue: (text: string) => string, what: string): string {
  try {
    return Mustache.render(template, view, {}, { escape: escapeValue });
  } catch (err) {
    throw new ComposeError(
      `the e-mail ${what} cannot be rendered: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
