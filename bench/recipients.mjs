// Respecting the recipient costs little: e-mail execution throughput with a send window and frequency caps on (a
// window in each party's time zone, a global and a per-scenario cap, so every e-mail passes the window check and takes
// a send slot) against the same run with them off, measured one after the other in the same run.
import { dueTogether } from "./execute.mjs";
import { log } from "./lib.mjs";

/** A fixed-offset zone where it is around noon now, so a 00:00–23:59 window is open for the whole measurement. */
function noonZone() {
  const offset = 12 - new Date().getUTCHours(); // hours to add to UTC to reach noon
  const clamped = Math.max(-12, Math.min(14, offset));
  // Etc/GMT zones are named with the sign inverted (Etc/GMT-2 is UTC+2).
  return clamped === 0 ? "Etc/GMT" : `Etc/GMT${clamped > 0 ? "-" : "+"}${Math.abs(clamped)}`;
}

export async function benchRecipients(api, { count = 10_000 } = {}) {
  // A short unmeasured run first, so neither measured run pays for a cold server.
  await dueTogether(api, { name: "Recipients warm-up", count: Math.min(500, count), action: true, delaySeconds: 5 });
  const off = await dueTogether(api, { name: "Recipients off", count, action: true });
  const tz = noonZone();
  const settings = await api("GET", "/settings");
  await api("PATCH", "/settings", { frequency_cap: { max: 1000, period: "P1D" } });
  let on;
  try {
    on = await dueTogether(api, {
      name: "Recipients on",
      count,
      action: true,
      fields: { tz },
      scenario: {
        send_window: { start: "00:00", end: "23:59", days: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] },
        time_zone: "Europe/Paris",
        frequency_cap: { max: 100, period: "P1D" },
      },
    });
  } finally {
    await api("PATCH", "/settings", { frequency_cap: settings.frequency_cap });
  }
  log(`recipients: ${off.perSecond.toFixed(1)} e-mails/s off, ${on.perSecond.toFixed(1)} on (${tz})`);
  return {
    execute_emails_per_s_without_windows_caps: off.perSecond,
    execute_emails_per_s_with_windows_caps: on.perSecond,
    execute_windows_caps_ratio: on.perSecond / off.perSecond,
  };
}
