import type { Suppression } from "../../engine/recipients/suppressions";
import { Badge, CsrfField, Layout, Time } from "../layout";

const REASON: Record<string, string> = {
  hard_bounce: "hard bounce",
  complaint: "spam complaint",
  unsubscribe: "unsubscribed from all e-mail",
  soft_bounces: "too many soft bounces",
  manual: "added by hand",
};

/** The suppression list: addresses no scenario sends to, why and since when; add one, or take one off. */
export function SuppressionsPage(props: {
  items: Suppression[];
  nextCursor: string | null;
  csrf: string;
  notice?: string;
}) {
  return (
    <Layout title="Suppression list" csrf={props.csrf} nav="suppressions" crumbs={[{ label: "Suppression list" }]}>
      <h1>Suppression list</h1>
      <p class="lead">
        No scenario sends to these addresses: their record activities end cancelled with the reason. Hard bounces, spam
        complaints and provider unsubscribes add an address on their own; soft bounces after a few of them.
      </p>
      {props.notice && (
        <p class="notice" role="status">
          {props.notice}
        </p>
      )}
      <form method="post" action="/console/suppressions" class="inline-form">
        <CsrfField token={props.csrf} />
        <label for="suppress-address">Address</label>
        <input id="suppress-address" name="address" type="email" required autocomplete="off" />
        <label for="suppress-note">Note</label>
        <input id="suppress-note" name="source" type="text" maxlength={500} />
        <button type="submit">Suppress</button>
      </form>
      {props.items.length === 0 ? (
        <p class="notice">The list is empty.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption>Suppressed addresses, by address</caption>
            <thead>
              <tr>
                <th scope="col">Address</th>
                <th scope="col">Reason</th>
                <th scope="col">Source</th>
                <th scope="col">Since</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {props.items.map((s) => (
                <tr data-suppression={s.address}>
                  <th scope="row">{s.address}</th>
                  <td>
                    <Badge kind={s.reason === "manual" ? "stopped" : "failed"}>{REASON[s.reason] ?? s.reason}</Badge>
                  </td>
                  <td>{s.source ?? <span class="muted">none</span>}</td>
                  <td>
                    <Time ms={s.createdAt} />
                  </td>
                  <td>
                    <form method="post" action="/console/suppressions/remove">
                      <CsrfField token={props.csrf} />
                      <input type="hidden" name="address" value={s.address} />
                      <button type="submit" class="secondary">
                        Remove<span class="visually-hidden">{` ${s.address}`}</span>
                      </button>
                    </form>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {props.nextCursor !== null && (
        <p class="pager">
          <a href={`/console/suppressions?cursor=${encodeURIComponent(props.nextCursor)}`}>Next page</a>
        </p>
      )}
    </Layout>
  );
}
