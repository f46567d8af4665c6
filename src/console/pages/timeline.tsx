import { type HitRow, TIMELINE_HITS, type timelinePage } from "../data";
import { Badge, Layout, Time } from "../layout";

type Data = Awaited<ReturnType<typeof timelinePage>>;

const KIND: Record<string, string> = {
  open: "Open",
  click: "Click",
  unsubscribe: "Unsubscribe",
  confirm: "Confirmation",
};

/** What the provider said happened to the e-mail, and the badge it gets. */
const DELIVERY: Record<string, { label: string; badge: string }> = {
  delivered: { label: "delivered", badge: "sent" },
  soft_bounce: { label: "soft bounce", badge: "retry" },
  hard_bounce: { label: "hard bounce", badge: "failed" },
  complaint: { label: "spam complaint", badge: "failed" },
  rejected: { label: "rejected by the provider", badge: "failed" },
  unsubscribe: { label: "unsubscribed (provider)", badge: "blocked" },
};

function HitsTable(props: { hits: HitRow[]; stepId: number }) {
  return (
    <div class="table-wrap">
      <table data-hits={String(props.stepId)}>
        <caption>Tracking hits, oldest first</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Hit</th>
            <th scope="col">Classified as</th>
            <th scope="col">Reason</th>
            <th scope="col">Client</th>
          </tr>
        </thead>
        <tbody>
          {props.hits.map((h) => (
            <tr data-hit={String(h.id)}>
              <td>
                <Time ms={h.at} />
              </td>
              <th scope="row">{KIND[h.kind] ?? h.kind}</th>
              <td>{h.human ? <Badge kind="human" /> : <Badge kind="machine" />}</td>
              <td>{h.reason ? <code>{h.reason}</code> : <span class="muted">a person</span>}</td>
              <td>{h.client ?? <span class="muted">unknown</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** What a record activity without a recorded reason is doing: the engine only writes reasons for the unusual. */
function defaultReason(state: string, scenarioState: string, blocked: boolean): string {
  if (state === "done") return "it was due and its condition, if any, matched";
  if (state === "running") return "it is being executed now";
  if (state !== "waiting") return "no reason recorded";
  if (blocked) return "waiting, but the record is blocked: it runs only if unblocked";
  if (scenarioState !== "running") return `waiting, but the scenario is ${scenarioState}: it runs when it runs again`;
  return "waiting for its due time";
}

/** A scenario record's timeline: every record activity in the order it arose, why it ran or not, its e-mails, its hits. */
export function TimelinePage(props: { data: Data; csrf: string }) {
  const {
    scenario,
    scenarioRecord: sr,
    record,
    steps,
    activityName,
    hitsAfter,
    nextHitsAfter,
    confirmation,
    retention,
  } = props.data;
  const here = `/console/scenario-records/${sr.id}`;
  const name = typeof record?.name === "string" ? record.name : null;
  const title = `${sr.model} ${sr.recordId}`;
  return (
    <Layout
      title={`${title} in ${scenario.name}`}
      csrf={props.csrf}
      nav="scenarios"
      crumbs={[
        { href: "/console/scenarios", label: "Scenarios" },
        { href: `/console/scenarios/${scenario.id}`, label: scenario.name },
        { label: title },
      ]}
    >
      <h1>
        Timeline of {title}
        {name && <span class="muted">{` (${name})`}</span>}
      </h1>
      <dl class="facts" data-scenario-record={String(sr.id)}>
        <dt>Scenario</dt>
        <dd>
          <a href={`/console/scenarios/${scenario.id}`}>{scenario.name}</a>
        </dd>
        <dt>Party</dt>
        <dd>{sr.partyId ?? <span class="muted">none</span>}</dd>
        <dt>Status</dt>
        <dd data-field="blocked">
          {sr.blocked ? (
            <>
              <Badge kind="blocked" /> it triggers nothing more (unsubscribed, or blocked by hand)
            </>
          ) : (
            <Badge kind="active" />
          )}
        </dd>
        <dt>Entered</dt>
        <dd>
          <Time ms={sr.createdAt} />
        </dd>
        {(scenario.doubleOptIn || confirmation) && (
          <>
            <dt>Subscription</dt>
            <dd data-field="subscription">
              {confirmation ? (
                <>
                  <Badge kind="human">confirmed</Badge> <Time ms={confirmation.confirmedAt} />
                  {confirmation.client && <span class="muted">{` from ${confirmation.client}`}</span>}
                </>
              ) : (
                "not confirmed: only the confirmation e-mail goes out until the recipient confirms"
              )}
            </dd>
          </>
        )}
        {record === null && (
          <>
            <dt>Record</dt>
            <dd>deleted since it entered the scenario</dd>
          </>
        )}
      </dl>

      <h2>What happened</h2>
      {retention !== null && (
        <p class="notice" data-retained="">
          {retention.note}
        </p>
      )}
      {hitsAfter !== null && (
        <p class="notice" data-hits-page="later">
          Tracking hits after hit {hitsAfter} only. <a href={here}>Back to the first hits</a>
        </p>
      )}
      {nextHitsAfter !== null && (
        <p class="notice" data-hits-cut="">
          This page shows {TIMELINE_HITS.toLocaleString("en")} tracking hits; there are more.{" "}
          <a href={`${here}?hits_after=${nextHitsAfter}`} rel="next">
            Next tracking hits
          </a>
        </p>
      )}
      {steps.length === 0 ? (
        <p class="notice">No activity applied to this record (root conditions did not match).</p>
      ) : (
        <ol class="timeline">
          {steps.map(({ step, emails, hits }) => (
            <li data-record-activity={String(step.id)}>
              <p class="node-title">
                <span class="node-name">{activityName.get(step.activityId) ?? `activity ${step.activityId}`}</span>
                <Badge kind={step.state} />
                {step.emailOpened && <Badge kind="human">opened</Badge>}
                {step.emailClicked && <Badge kind="human">clicked</Badge>}
              </p>
              <dl class="facts">
                <dt>{step.state === "waiting" ? "Due" : step.state === "done" ? "Ran at" : "At"}</dt>
                <dd data-field="at">
                  {step.at === null && step.state === "waiting" ? (
                    "when the e-mail event happens"
                  ) : (
                    <Time ms={step.at} />
                  )}
                </dd>
                <dt>Was due</dt>
                <dd data-field="due_at">
                  <Time ms={step.dueAt} />
                </dd>
                <dt>Why</dt>
                <dd data-field="reason">{step.reason ?? defaultReason(step.state, scenario.state, sr.blocked)}</dd>
                {step.attempts > 1 && (
                  <>
                    <dt>Attempts</dt>
                    <dd>{step.attempts}</dd>
                  </>
                )}
                {emails.length > 0 && (
                  <>
                    <dt>E-mail</dt>
                    <dd>
                      <ul>
                        {emails.map((m) => (
                          <li>
                            <a href={`/console/emails/${m.id}`}>{m.subject}</a> <Badge kind={m.status} />
                            {m.error && <span>{` ${m.error}`}</span>}
                            {m.deliveries.length > 0 && (
                              <ul class="deliveries" data-deliveries={String(m.id)}>
                                {m.deliveries.map((d) => (
                                  <li data-delivery={d.kind}>
                                    <Time ms={d.at} />{" "}
                                    <Badge kind={DELIVERY[d.kind]?.badge ?? "waiting"}>
                                      {DELIVERY[d.kind]?.label ?? d.kind}
                                    </Badge>
                                    {d.detail && <span>{` ${d.detail}`}</span>}
                                    <span class="muted">{` (${d.provider})`}</span>
                                  </li>
                                ))}
                              </ul>
                            )}
                          </li>
                        ))}
                      </ul>
                    </dd>
                  </>
                )}
              </dl>
              {hits.length > 0 && <HitsTable hits={hits} stepId={step.id} />}
            </li>
          ))}
        </ol>
      )}
    </Layout>
  );
}
