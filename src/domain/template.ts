import Mustache from "mustache";

/**
 * Checks that a Mustache template parses. Returns the problem (`unclosed section "items" at 14`) or null.
 * Mustache caches parsed templates, so checking on save also warms rendering.
 */
export function templateProblem(template: string): string | null {
  try {
    Mustache.parse(template);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
