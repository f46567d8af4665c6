import type { Engine, EnrollmentStatus } from "../ports";
import { scenarioActivities } from "./activities";
import { assertDoubleOptIn } from "./double-opt-in";
import { getScenarioRow, type Scenario, transitionScenario } from "./scenarios";

/**
 * The scenario lifecycle verbs, the same for the API and the console. Running a scenario asks its Enroller for a
 * background pass (records are enrolled in bounded steps, never in the request). A scenario that requires double
 * opt-in refuses to run (409) unless its tree lets nothing reach a recipient before it confirms.
 */
export async function runScenario(e: Engine, id: number): Promise<Scenario> {
  const current = await getScenarioRow(e, id);
  if (current.doubleOptIn && current.state !== "running") {
    assertDoubleOptIn(id, await scenarioActivities(e, id), "run");
  }
  const scenario = await transitionScenario(e, id, "run");
  await e.enrollment.start(id);
  return scenario;
}

/** Stops a running scenario: nothing is enrolled or executed until it runs again. */
export const stopScenario = (e: Engine, id: number): Promise<Scenario> => transitionScenario(e, id, "stop");

/** Puts a stopped scenario back in draft. */
export const draftScenario = (e: Engine, id: number): Promise<Scenario> => transitionScenario(e, id, "draft");

/** Where the scenario's background enrollment pass stands (a 404 for a scenario that does not exist). */
export async function scenarioEnrollment(e: Engine, id: number): Promise<EnrollmentStatus> {
  const status = await e.enrollment.status(id);
  // The Enroller knows the scenarios it enrolled for; otherwise the scenario must at least exist.
  if (status.scenarioId === null) await getScenarioRow(e, id);
  return status;
}
