import type { HitTarget } from "./hits";
import type { TrackedLink } from "./links";

/** The hit a click or an open on `link` records. */
export function hitOn(link: TrackedLink, kind: "click" | "open"): HitTarget {
  return {
    kind,
    linkKey: link.key,
    emailId: link.emailId,
    recordActivityId: link.recordActivityId,
    scenarioId: link.scenarioId,
    activityId: link.activityId,
    sentAt: link.sentAt,
  };
}
