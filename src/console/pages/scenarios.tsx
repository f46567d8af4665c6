import type { ScenarioState } from "../../db/schema";
import type { Scenario } from "../../engine/scenarios/scenarios";
import { Badge, Count, CsrfField, Layout, Rate } from "../layout";

const TRANSITIONS: Record<ScenarioState, { action: "run" | "stop" | "draft"; label: string }[]> = {
  draft: [{ action: "run", label: "Run" }],
  running: [{ action: "stop", label: "Stop" }],
  stopped: [
    { action: "run", label: "Run again" },
    { action: "draft", label: "Back to draft" },
  ],
};

/** The state transitions allowed from the scenario's state, one POST form each (with the CSRF token). */
export function TransitionForms(props: { scenario: Scenario; csrf: string; back?: string }) {
  const { scenario } = props;
  return (
    <div class="actions">
      {TRANSITIONS[scenario.state].map((t) => (
        <form method="post" action={`/console/scenarios/${scenario.id}/${t.action}`}>
          <CsrfField token={props.csrf} />
          {props.back && <input type="hidden" name="back" value={props.back} />}
          <button type="submit" class={t.action === "run" ? undefined : "secondary"} data-action={t.action}>
            {t.label}
            <span class="visually-hidden">{` “${scenario.name}”`}</span>
          </button>
        </form>
      ))}
    </div>
  );
}

export function ScenariosPage(props: { scenarios: Scenario[]; nextCursor: number | null; csrf: string }) {
  return (
    <Layout title="Scenarios" csrf={props.csrf} nav="scenarios">
      <h1>Scenarios</h1>
      <p class="lead">
        Counts are the scenario records; in draft, the records that match the domain now. Rates are rounded to whole
        percents.
      </p>
      {props.scenarios.length === 0 ? (
        <p class="notice">
          No scenario yet: create one with <code>POST /api/scenarios</code> (see the <a href="/api/docs">API</a>).
        </p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption>All scenarios, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">Scenario</th>
                <th scope="col">Model</th>
                <th scope="col">State</th>
                <th scope="col" class="num">
                  Records
                </th>
                <th scope="col" class="num">
                  Blocked
                </th>
                <th scope="col" class="num">
                  Block rate
                </th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {props.scenarios.map((s) => (
                <tr data-scenario={String(s.id)}>
                  <th scope="row">
                    <a href={`/console/scenarios/${s.id}`}>{s.name}</a>
                  </th>
                  <td>{s.model}</td>
                  <td>
                    <Badge kind={s.state} />
                  </td>
                  <td class="num">
                    <Count stat="record_count" value={s.recordCount} />
                  </td>
                  <td class="num">
                    <Count stat="record_count_blocked" value={s.recordCountBlocked} />
                  </td>
                  <td class="num">
                    <Rate stat="block_rate" value={s.blockRate} />
                  </td>
                  <td>
                    <TransitionForms scenario={s} csrf={props.csrf} back="/console/scenarios" />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {props.nextCursor !== null && (
        <p class="pager">
          <a href={`/console/scenarios?cursor=${props.nextCursor}`}>Next page</a>
        </p>
      )}
    </Layout>
  );
}
