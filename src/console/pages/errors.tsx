import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { Layout } from "../layout";

type Page = ReturnType<typeof Layout>;

/** Sends a console page (the security headers are added by the console's middleware). */
export function sendPage(c: Context, page: Page, status: ContentfulStatusCode = 200) {
  return c.html(page as Parameters<Context["html"]>[0], status);
}

function ProblemPage(props: { title: string; message: string; csrf?: string; back?: string }) {
  return (
    <Layout title={props.title} csrf={props.csrf}>
      <h1>{props.title}</h1>
      <p class="error" role="alert">
        {props.message}
      </p>
      <p>
        <a href={props.back ?? "/console/scenarios"}>Back to the scenarios</a>
      </p>
    </Layout>
  );
}

/** A refused POST: nothing was changed. */
export const forbiddenPage = (reason: string) => (
  <ProblemPage
    title="Request refused"
    message={`${reason} Nothing was changed: reload the page, sign in again if asked, and retry.`}
  />
);

export const problemPage = (title: string, message: string, csrf?: string) => (
  <ProblemPage title={title} message={message} csrf={csrf} />
);
