import type { Context } from "hono";
import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Messages } from "./messages";

/**
 * Headers of every public page: nothing loads but the inline style, nothing frames it, no referrer leaks the token.
 * `form-action` must also allow where the form's answer redirects to (the stored next page): browsers apply it to the
 * redirects that follow a form submission.
 */
export function pageHeaders(formTargets: readonly string[] = []): Record<string, string> {
  return {
    "Content-Security-Policy": [
      "default-src 'none'",
      "style-src 'unsafe-inline'",
      `form-action ${["'self'", ...formTargets].join(" ")}`,
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join("; "),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
  };
}

type Page = HtmlEscapedString | Promise<HtmlEscapedString>;

/** Sends a page with the security headers. */
export function sendPage(c: Context, page: Page, status: ContentfulStatusCode = 200, formTargets: string[] = []) {
  return c.html(page, status, pageHeaders(formTargets));
}

const STYLE = `
  body { font: 1.125rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a; background: #fff;
         margin: 0; padding: 2rem 1rem; }
  main { max-width: 32rem; margin: 0 auto; }
  h1 { font-size: 1.5rem; line-height: 1.25; margin: 0 0 1rem; }
  button { font: inherit; color: #fff; background: #0b57d0; border: 0; border-radius: 0.375rem; padding: 0.625rem 1.25rem;
           cursor: pointer; }
  button:hover { background: #0842a0; }
  button:focus-visible { outline: 3px solid #1a1a1a; outline-offset: 2px; }`;

function layout(m: Messages, title: string, content: Page): Page {
  return html`<!doctype html>
<html lang="${m.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${title}</title>
<style>${raw(STYLE)}</style>
</head>
<body>
<main>
${content}
</main>
</body>
</html>`;
}

/** The question asked before unsubscribing: a real form, so a link scanner's GET changes nothing. */
export function confirmPage(m: Messages, scenario: string, action: string): Page {
  return layout(
    m,
    m.confirmTitle,
    html`<h1 id="heading">${m.confirmHeading(scenario)}</h1>
<p>${m.confirmBody}</p>
<form method="post" action="${action}" aria-labelledby="heading">
<button type="submit">${m.confirmButton}</button>
</form>`,
  );
}

export function donePage(m: Messages, scenario: string): Page {
  return layout(m, m.doneTitle, html`<h1>${m.doneTitle}</h1>\n<p>${m.doneBody(scenario)}</p>`);
}

export function notFoundPage(m: Messages): Page {
  return layout(m, m.notFoundTitle, html`<h1>${m.notFoundTitle}</h1>\n<p>${m.notFoundBody}</p>`);
}

export function errorPage(m: Messages): Page {
  return layout(m, m.errorTitle, html`<h1>${m.errorTitle}</h1>\n<p>${m.errorBody}</p>`);
}

export interface TopicChoice {
  id: string;
  name: string;
  description: string | null;
  subscribed: boolean;
}

/**
 * The preference centre: a checkbox per topic and two buttons (save, unsubscribe from all). A real form, so a link
 * scanner's GET changes nothing.
 */
export function preferencesPage(m: Messages, topics: TopicChoice[], action: string, saved: boolean): Page {
  const items = topics.map(
    (t) =>
      html`<li><label><input type="checkbox" name="subscribed" value="${t.id}"${t.subscribed ? raw(" checked") : ""}> ${t.name}</label>${
        t.description ? html`<br><small>${t.description}</small>` : ""
      }</li>`,
  );
  return layout(
    m,
    m.prefsTitle,
    html`<h1 id="heading">${m.prefsTitle}</h1>
${saved ? html`<p role="status">${m.prefsSaved}</p>` : ""}
${
  topics.length === 0
    ? html`<p>${m.prefsNoTopics}</p>`
    : html`<p>${m.prefsBody}</p>
<form method="post" action="${action}" aria-labelledby="heading">
<ul style="list-style:none;padding:0">${items}</ul>
<p><button type="submit" name="action" value="save">${m.prefsSave}</button></p>
<p><button type="submit" name="action" value="all">${m.prefsAll}</button></p>
</form>`
}`,
  );
}
