import type { Engine } from "../engine/context";
import type { Bindings } from "../env";
import type { Session } from "./session";

/** What console handlers see: the bindings, the engine, and the signed-in session (set by `requireSession`). */
export type ConsoleEnv = { Bindings: Bindings; Variables: { engine: Engine; session: Session } };
