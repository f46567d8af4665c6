import { raw } from "hono/html";
import type { Child } from "hono/jsx";

/** The page frame: skip link, header with the navigation and the logout form, breadcrumbs, the main content. */
export function Layout(props: {
  title: string;
  /** The signed-in session's CSRF token; without it (login and error pages) there is no navigation. */
  csrf?: string;
  crumbs?: { href?: string; label: string }[];
  nav?: "scenarios" | "suppressions";
  children: Child;
}) {
  return (
    <>
      {raw("<!doctype html>")}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <meta name="robots" content="noindex, nofollow" />
          <title>{`${props.title} · Marketing automation console`}</title>
          <link rel="stylesheet" href="/console/style.css" />
        </head>
        <body>
          <a class="skip" href="#main">
            Skip to content
          </a>
          <header class="top">
            <p class="brand">
              <a href="/console/scenarios">Marketing automation</a>
            </p>
            {props.csrf && (
              <>
                <nav aria-label="Main">
                  <ul>
                    <li>
                      <a href="/console/scenarios" aria-current={props.nav === "scenarios" ? "page" : undefined}>
                        Scenarios
                      </a>
                    </li>
                    <li>
                      <a href="/console/suppressions" aria-current={props.nav === "suppressions" ? "page" : undefined}>
                        Suppression list
                      </a>
                    </li>
                    <li>
                      <a href="/api/docs">API</a>
                    </li>
                  </ul>
                </nav>
                <form method="post" action="/console/logout">
                  <CsrfField token={props.csrf} />
                  <button type="submit" class="secondary">
                    Log out
                  </button>
                </form>
              </>
            )}
          </header>
          <main id="main" tabindex={-1}>
            {props.crumbs && props.crumbs.length > 0 && (
              <nav class="crumbs" aria-label="Breadcrumb">
                <ol>
                  {props.crumbs.map((c, i) => (
                    <li>
                      {c.href && i < (props.crumbs?.length ?? 0) - 1 ? (
                        <a href={c.href}>{c.label}</a>
                      ) : (
                        <span aria-current="page">{c.label}</span>
                      )}
                    </li>
                  ))}
                </ol>
              </nav>
            )}
            {props.children}
          </main>
        </body>
      </html>
    </>
  );
}

/** The hidden field every console form carries. */
export const CsrfField = (props: { token: string }) => <input type="hidden" name="csrf" value={props.token} />;

/** A UTC time, readable and machine-readable; a dash when there is none. */
export function Time(props: { ms?: number | null; iso?: string | null }) {
  const iso = props.iso ?? (props.ms == null ? null : new Date(props.ms).toISOString());
  if (!iso) return <span class="muted">—</span>;
  return <time datetime={iso}>{`${iso.slice(0, 19).replace("T", " ")} UTC`}</time>;
}

/** A rate of the API (0.5) shown as a percentage, with the API's value kept for tests and scrapers. */
export const Rate = (props: { value: number; stat: string }) => (
  <span data-stat={props.stat} data-value={String(props.value)}>{`${Math.round(props.value * 100)}%`}</span>
);

/** A count; with `cap`, a value above it is shown as "cap+" (the count stopped there). */
export const Count = (props: { value: number; stat: string; cap?: number }) => (
  <span data-stat={props.stat} data-value={String(props.value)}>
    {props.cap !== undefined && props.value > props.cap
      ? `${props.cap.toLocaleString("en-US")}+`
      : props.value.toLocaleString("en-US")}
  </span>
);

export const Badge = (props: { kind: string; children?: Child }) => (
  <span class={`badge ${props.kind}`}>{props.children ?? props.kind}</span>
);

/** JSON (a domain, a condition) in a code element; a dash for null. */
export const JsonCode = (props: { value: unknown }) =>
  props.value == null ? <span class="muted">none</span> : <code>{JSON.stringify(props.value)}</code>;
