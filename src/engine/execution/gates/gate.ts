import type { ActionOutcome, Engine } from "../../ports";
import type { DueJob } from "../due";

/**
 * A check the engine runs on a claimed batch before the actions. It may settle some jobs: return their outcome
 * (`cancelled`, `failed`, `deferred`, or even `done` to skip the action); the jobs it leaves go on to the next gate,
 * then to their action. A gate that throws fails the whole claim (it is retried when the claim lapses): catch what
 * belongs to one job.
 */
export interface Gate {
  readonly name: string;
  check(jobs: DueJob[], ctx: { engine: Engine; now: number }): Promise<Map<number, ActionOutcome>>;
}
