import type { FrequencyCap } from "../../db/schema";
import type { SendWindow } from "../../recipients/window";
import type { ActivityNode, scenarioPage } from "../data";
import { Badge, Count, JsonCode, Layout, Rate, Time } from "../layout";
import { Trend } from "../sparkline";
import { TransitionForms } from "./scenarios";

/** "09:00–18:00, mon tue wed thu fri" (every day when the window names no days). */
export const windowLabel = (w: SendWindow | null) =>
  w === null ? null : `${w.start}–${w.end}, ${w.days ? w.days.join(" ") : "every day"}`;

const capLabel = (cap: FrequencyCap | null) =>
  cap === null ? "none" : `at most ${cap.max} e-mail${cap.max === 1 ? "" : "s"} per recipient per ${cap.period}`;

/** Each language version of an activity's e-mail: the default first, then every translation, subject and body. */
function LanguageVersions(props: { a: ActivityNode["activity"] }) {
  const versions = [
    { lang: "default", title: props.a.emailTitle ?? "", template: props.a.emailTemplate ?? "" },
    ...Object.entries(props.a.emailTranslations ?? {}).map(([lang, v]) => ({
      lang,
      title: v.email_title,
      template: v.email_template,
    })),
  ];
  return (
    <>
      {versions.map((v) => (
        <>
          <dt>{v.lang === "default" ? "Subject" : `Subject (${v.lang})`}</dt>
          <dd data-lang={v.lang}>
            <code>{v.title}</code>
            {versions.length > 1 && (
              <details>
                <summary>Body</summary>
                <pre>
                  <code>{v.template}</code>
                </pre>
              </details>
            )}
          </dd>
        </>
      ))}
    </>
  );
}

type Data = Awaited<ReturnType<typeof scenarioPage>>;
type Range = Data["range"];

const ON_LABEL: Record<string, string> = {
  email_opened: "when the e-mail is opened",
  email_not_opened: "when the e-mail is not opened",
  email_clicked: "when a link is clicked",
  email_not_clicked: "when no link is clicked",
  email_bounced: "when the e-mail bounces or is rejected",
  subscription_confirmed: "when the recipient confirms the subscription",
  subscription_not_confirmed: "when the recipient has not confirmed in time",
  split: "as a branch of a random split",
  record_changed: "when the record changes to match the condition",
  record_not_changed: "at the deadline, unless the record changed",
};

const ACTION_LABEL: Record<string, string> = {
  send_email: "sends an e-mail",
  webhook: "calls a webhook",
  update_record: "updates the record",
};

/** One node of the tree: what it does, when, on which condition; its stats and its 30-day trend; then its children. */
function ActivityItem(props: { node: ActivityNode; range: Range }) {
  const a = props.node.activity;
  const nameId = `activity-${a.id}`;
  return (
    <li data-activity={String(a.id)}>
      <article class="node" aria-labelledby={nameId}>
        <p class="node-title">
          <span class="node-name" id={nameId}>
            {a.name}
          </span>
          <Badge kind="action">{a.action === null ? "no action" : (ACTION_LABEL[a.action] ?? a.action)}</Badge>
        </p>
        <div class="node-body">
          <div>
            <dl class="facts">
              <dt>Runs</dt>
              <dd data-field="on">{a.on === null ? "after its parent" : ON_LABEL[a.on]}</dd>
              {a.on === "split" && (
                <>
                  <dt>Split weight</dt>
                  <dd data-field="weight">
                    {a.weight} ({Math.round((a.splitShare ?? 0) * 100)} % of the records)
                  </dd>
                </>
              )}
              <dt>Delay</dt>
              <dd data-field="delay">{a.delay === null ? "none" : <code>{a.delay}</code>}</dd>
              <dt>Condition</dt>
              <dd data-field="condition">
                <JsonCode value={a.condition} />
              </dd>
              {a.action === "send_email" && (
                <>
                  <LanguageVersions a={a} />
                  <dt>Send window</dt>
                  <dd data-field="send_window">{windowLabel(a.sendWindow) ?? "the scenario's"}</dd>
                </>
              )}
            </dl>
            <dl class="stats">
              <div>
                <dt>Done</dt>
                <dd>
                  <Count stat="record_count" value={a.recordCount} />
                </dd>
              </div>
              {(["waiting", "cancelled", "failed"] as const).map((state) => (
                <div>
                  <dt>{state[0]?.toUpperCase() + state.slice(1)}</dt>
                  <dd>
                    <Count stat={state} value={props.node.states[state] ?? 0} />
                  </dd>
                </div>
              ))}
              {a.action === "send_email" && (
                <>
                  <div>
                    <dt>Opened</dt>
                    <dd>
                      <Count stat="email_opened" value={a.emailOpened} />
                    </dd>
                  </div>
                  <div>
                    <dt>Clicked</dt>
                    <dd>
                      <Count stat="email_clicked" value={a.emailClicked} />
                    </dd>
                  </div>
                  <div>
                    <dt>Open rate</dt>
                    <dd>
                      <Rate stat="email_open_rate" value={a.emailOpenRate} />
                    </dd>
                  </div>
                  <div>
                    <dt>Click rate</dt>
                    <dd>
                      <Rate stat="email_click_rate" value={a.emailClickRate} />
                    </dd>
                  </div>
                  <div>
                    <dt>Click-through</dt>
                    <dd>
                      <Rate stat="email_click_through_rate" value={a.emailClickThroughRate} />
                    </dd>
                  </div>
                  <div>
                    <dt>Conversions</dt>
                    <dd>
                      <Count stat="conversions" value={a.conversions} />
                    </dd>
                  </div>
                </>
              )}
            </dl>
          </div>
          <Trend
            values={props.node.trend.map((r) => r.recordCount)}
            what={`“${a.name}” done`}
            from={props.range.from}
            to={props.range.to}
          />
        </div>
      </article>
      {props.node.children.length > 0 && (
        <ul>
          {props.node.children.map((child) => (
            <ActivityItem node={child} range={props.range} />
          ))}
        </ul>
      )}
    </li>
  );
}

export function ScenarioPage(props: { data: Data; csrf: string }) {
  const { scenario: s, roots, trend, range, recordsPage, latest, retention } = props.data;
  return (
    <Layout
      title={s.name}
      csrf={props.csrf}
      nav="scenarios"
      crumbs={[{ href: "/console/scenarios", label: "Scenarios" }, { label: s.name }]}
    >
      <h1>{s.name}</h1>
      <div class="summary" data-scenario={String(s.id)}>
        <div>
          <dl class="facts">
            <dt>State</dt>
            <dd>
              <Badge kind={s.state} />
            </dd>
            <dt>Model</dt>
            <dd>{s.model}</dd>
            <dt>Domain</dt>
            <dd>
              <JsonCode value={s.domain} />
            </dd>
            <dt>Unsubscribable</dt>
            <dd>{s.unsubscribable ? "yes: unsubscribing also keeps the party's other records out" : "no"}</dd>
            <dt>Double opt-in</dt>
            <dd data-field="double_opt_in">
              {s.doubleOptIn
                ? `yes: nothing but the confirmation e-mail goes out before the recipient confirms (${s.recordCountConfirmed} confirmed)`
                : "no"}
            </dd>
            <dt>Topics</dt>
            <dd data-field="topics">{s.topics.length === 0 ? "none" : s.topics.join(", ")}</dd>
            <dt>Send window</dt>
            <dd data-field="send_window">
              {windowLabel(s.sendWindow) ?? "any time"}
              {` (recipient's tz, else ${s.timeZone ?? "UTC"})`}
            </dd>
            <dt>Frequency cap</dt>
            <dd data-field="frequency_cap">{capLabel(s.frequencyCap)}</dd>
            <dt>Created</dt>
            <dd>
              <Time ms={s.createdAt} />
            </dd>
          </dl>
          <dl class="stats">
            <div>
              <dt>{s.state === "draft" ? "Records matching now" : "Records"}</dt>
              <dd>
                <Count stat="record_count" value={s.recordCount} />
              </dd>
            </div>
            <div>
              <dt>Blocked</dt>
              <dd>
                <Count stat="record_count_blocked" value={s.recordCountBlocked} />
              </dd>
            </div>
            <div>
              <dt>Block rate</dt>
              <dd>
                <Rate stat="block_rate" value={s.blockRate} />
              </dd>
            </div>
          </dl>
        </div>
        <div>
          <Trend values={trend.map((r) => r.recordCount)} what="Records entered" from={range.from} to={range.to} />
          <TransitionForms scenario={s} csrf={props.csrf} />
        </div>
      </div>

      <h2>Activity tree</h2>
      {retention !== null && (
        <p class="notice" data-retained="">
          {retention.note}
        </p>
      )}
      {roots.length === 0 ? (
        <p class="notice">No activity yet.</p>
      ) : (
        <ul class="tree" aria-label={`Activities of “${s.name}”`}>
          {roots.map((node) => (
            <ActivityItem node={node} range={range} />
          ))}
        </ul>
      )}

      <h2>Records</h2>
      <p>
        <a href={`/console/scenarios/${s.id}/export`} download>
          Export results (CSV)
        </a>{" "}
        · <a href={`/console/scenarios/${s.id}/export?format=jsonl`}>JSON lines</a>: one row per recipient
      </p>
      {recordsPage.items.length === 0 ? (
        <p class="notice">
          {s.state === "draft" ? "Nothing enters a scenario in draft: run it." : "No record has entered yet."}
        </p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption>Records that entered the scenario, in the order they did</caption>
            <thead>
              <tr>
                <th scope="col">Record</th>
                <th scope="col">Party</th>
                <th scope="col">Status</th>
                <th scope="col">Entered</th>
              </tr>
            </thead>
            <tbody>
              {recordsPage.items.map((r) => (
                <tr data-scenario-record={String(r.id)}>
                  <th scope="row">
                    <a href={`/console/scenario-records/${r.id}`}>{`${r.model} ${r.recordId}`}</a>
                  </th>
                  <td>{r.partyId ?? <span class="muted">none</span>}</td>
                  <td>{r.blocked ? <Badge kind="blocked" /> : <Badge kind="active" />}</td>
                  <td>
                    <Time ms={r.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {recordsPage.nextCursor !== null && (
        <p class="pager">
          <a href={`/console/scenarios/${s.id}?cursor=${recordsPage.nextCursor}`}>Next records</a>
        </p>
      )}

      <h2>E-mails of the latest records</h2>
      {latest.length === 0 ? (
        <p class="notice">No e-mail sent yet.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption>
              {latest.length} e-mails of this scenario's latest records (the last enrolled first), each record's newest
              first
            </caption>
            <thead>
              <tr>
                <th scope="col">Subject</th>
                <th scope="col">To</th>
                <th scope="col">Status</th>
                <th scope="col">Sent</th>
              </tr>
            </thead>
            <tbody>
              {latest.map((m) => (
                <tr>
                  <th scope="row">
                    <a href={`/console/emails/${m.id}`}>{m.subject}</a>
                  </th>
                  <td>{m.to}</td>
                  <td>
                    <Badge kind={m.status} />
                  </td>
                  <td>
                    <Time ms={m.sentAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  );
}
