import type { emailPage } from "../data";
import { Badge, Layout, Time } from "../layout";

type Data = Awaited<ReturnType<typeof emailPage>>;

/** One archived e-mail: where it belongs, its HTML in a sandboxed frame, its headers and its plain text. */
export function EmailPage(props: { data: Data; csrf: string }) {
  const { email: m, body, scenario, activityName } = props.data;
  return (
    <Layout
      title={m.subject}
      csrf={props.csrf}
      nav="scenarios"
      crumbs={[
        { href: "/console/scenarios", label: "Scenarios" },
        { href: `/console/scenarios/${scenario.id}`, label: scenario.name },
        { href: `/console/scenario-records/${m.scenarioRecordId}`, label: "Timeline" },
        { label: `E-mail ${m.id}` },
      ]}
    >
      <h1>{m.subject}</h1>
      <dl class="facts" data-email={String(m.id)}>
        <dt>To</dt>
        <dd>{m.to}</dd>
        <dt>From</dt>
        <dd>{m.from}</dd>
        <dt>Status</dt>
        <dd>
          <Badge kind={m.status} />
          {m.error && <span>{` ${m.error}`}</span>}
        </dd>
        <dt>Sent</dt>
        <dd>
          <Time ms={m.sentAt} />
        </dd>
        <dt>Activity</dt>
        <dd>
          <a href={`/console/scenarios/${scenario.id}#activity-${m.activityId}`}>{activityName}</a>
        </dd>
        <dt>Recipient's timeline</dt>
        <dd>
          <a href={`/console/scenario-records/${m.scenarioRecordId}`}>scenario record {m.scenarioRecordId}</a>
        </dd>
        <dt>Transport</dt>
        <dd>{`${m.transport}, attempt ${m.attempt}`}</dd>
      </dl>

      <h2>Message</h2>
      {body ? (
        <>
          <p class="lead">
            As archived, except that tracking is disarmed: links show their destination, the open pixel is removed and
            remote images do not load, so looking at it here records nothing.
          </p>
          <iframe
            class="frame"
            sandbox=""
            src={`/console/emails/${m.id}/body`}
            title={`HTML of the e-mail “${m.subject}”`}
            referrerpolicy="no-referrer"
          />
        </>
      ) : (
        <p class="notice">The body of this e-mail is not in the archive.</p>
      )}

      <h2>Headers</h2>
      <div class="table-wrap">
        <table>
          <caption>Headers of the message</caption>
          <thead>
            <tr>
              <th scope="col">Header</th>
              <th scope="col">Value</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(m.headers).map(([name, value]) => (
              <tr>
                <th scope="row">{name}</th>
                <td>
                  <code>{value}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      {body && (
        <>
          <h2>Plain text</h2>
          <pre>{body.text}</pre>
        </>
      )}
    </Layout>
  );
}
