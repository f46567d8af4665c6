import type { activities } from "../../db/schema";
import { hasConfirmLink } from "../../email/rewrite";
import { conflict } from "../../errors";

type Node = Pick<
  typeof activities.$inferSelect,
  "id" | "parentId" | "name" | "on" | "action" | "emailTemplate" | "emailTranslations" | "scenarioId"
>;

/** An activity not yet saved is given id 0 in the tree being checked. */
const label = (a: Node) => `${a.id > 0 ? `activity ${a.id}` : "the new activity"} ("${a.name}")`;

/**
 * Why a tree cannot run under double opt-in, or null when it can. Nothing may reach the recipient before it confirms:
 * - every root is a confirmation e-mail: `send_email` whose body (in every language version) has `href="confirm"`,
 *   with at least one child on `subscription_confirmed`;
 * - every child of a root waits for `subscription_confirmed` (then anything may follow), or is the expiry branch
 *   `subscription_not_confirmed`, whose subtree performs no action.
 */
export function doubleOptInProblem(tree: readonly Node[]): string | null {
  const childrenOf = (id: number | null) => tree.filter((a) => a.parentId === id);
  for (const root of childrenOf(null)) {
    if (root.action !== "send_email") {
      return `${label(root)} is a root that does not send the confirmation e-mail: under double opt-in every root sends an e-mail with a confirmation link (href="confirm")`;
    }
    const versions = [
      root.emailTemplate ?? "",
      ...Object.values(root.emailTranslations ?? {}).map((v) => v.email_template),
    ];
    if (!versions.every(hasConfirmLink)) {
      return `${label(root)} is a root whose e-mail has no confirmation link: every version of its template needs href="confirm"`;
    }
    const children = childrenOf(root.id);
    if (!children.some((c) => c.on === "subscription_confirmed")) {
      return `${label(root)} has no child on "subscription_confirmed": nothing would follow the confirmation`;
    }
    for (const child of children) {
      if (child.on === "subscription_confirmed") continue;
      if (child.on !== "subscription_not_confirmed") {
        return `${label(child)} would run before the recipient confirms: under double opt-in the confirmation e-mail's children wait for "subscription_confirmed" (or "subscription_not_confirmed", without actions)`;
      }
      const acting = subtree(tree, child.id).find((a) => a.action !== null);
      if (acting) {
        return `${label(acting)} performs "${acting.action}" on the "subscription_not_confirmed" branch: nothing may reach a recipient who did not confirm`;
      }
    }
  }
  return null;
}

function subtree(tree: readonly Node[], rootId: number): Node[] {
  const out: Node[] = [];
  const visit = (id: number) => {
    for (const a of tree) {
      if (a.parentId === id) {
        out.push(a);
        visit(a.id);
      }
    }
  };
  const root = tree.find((a) => a.id === rootId);
  if (root) out.push(root);
  visit(rootId);
  return out;
}

/** A 409 naming why, when the scenario requires double opt-in and its tree does not hold to it. */
export function assertDoubleOptIn(scenarioId: number, tree: readonly Node[], doing: string): void {
  const problem = doubleOptInProblem(tree);
  if (problem) throw conflict(`scenario ${scenarioId} requires double opt-in, so it cannot ${doing}: ${problem}`);
}
