import type { Engine } from "../engine/ports";
import type { Bindings } from "../env";
import type { Session } from "./session";

/**
 * What console handlers see: the bindings, the signed-in session (set by `requireSession`) and the engine over the
 * request's D1 session (set by `consistentReads`).
 */
export type ConsoleEnv = { Bindings: Bindings; Variables: { engine: Engine; session: Session } };
