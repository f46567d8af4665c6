// Deliverability: how fast delivery events (bounces, complaints…) are recorded through the queue, and how closely
// the send throttle holds its rate while the transport answers 429 some of the time.
import { loadParties, log, sleep, until } from "./lib.mjs";

async function benchCounts(base) {
  return (await fetch(`${base}/__bench/deliverability`)).json();
}

/** A scenario that sends one e-mail to each of `count` parties at once; resolves when all are archived. */
async function sendTo(api, { name, count, waitSent = true }) {
  const prefix = `${name.toLowerCase().replace(/\W/g, "")}-`;
  await loadParties(api, { count, prefix, fields: () => ({ cohort: name }) });
  const scenario = await api("POST", "/scenarios", { name, model: "party", domain: [["cohort", "=", name]] });
  const activity = await api("POST", `/scenarios/${scenario.id}/activities`, {
    name: "Mail",
    action: "send_email",
    email_title: "Hello {{party.name}}",
    email_template: "<p>Hello</p>",
  });
  await api("POST", `/scenarios/${scenario.id}/run`);
  if (waitSent) {
    await until(async () => (await api("GET", `/activities/${activity.id}`)).record_count >= count, {
      kick: api.base,
      every: 250,
    });
  }
  return { scenario, activity };
}

/**
 * `events` delivery events over `emails` e-mails (mostly `delivered`, a tenth soft bounces, a few hard bounces and
 * complaints), posted to the generic API 1,000 a request (MailChannels' batch size) with 4 requests in flight; the
 * rate is from the first post to the last event recorded by the queue consumer. Baseline: how fast the same
 * requests are accepted (validated, matched, queued).
 */
export async function benchBounces(api, { emails = 500, events = 20_000 } = {}) {
  const { scenario } = await sendTo(api, { name: "Bounces", count: emails });
  const archived = [];
  let cursor = null;
  do {
    const page = await api("GET", `/emails?scenario_id=${scenario.id}&limit=500${cursor ? `&cursor=${cursor}` : ""}`);
    archived.push(...page.items.map((m) => m.provider_message_id));
    cursor = page.next_cursor;
  } while (cursor);
  await api("POST", `/scenarios/${scenario.id}/stop`);
  const before = (await benchCounts(api.base)).events;
  const kindOf = (i) =>
    i % 50 === 0 ? "hard_bounce" : i % 97 === 0 ? "complaint" : i % 10 === 0 ? "soft_bounce" : "delivered";
  const requests = [];
  for (let r = 0; r * 1000 < events; r++) {
    const batch = [];
    for (let i = r * 1000; i < Math.min(events, (r + 1) * 1000); i++) {
      batch.push({ id: `bench-${i}`, kind: kindOf(i), provider_message_id: archived[i % archived.length] });
    }
    requests.push(batch);
  }
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < requests.length) await api("POST", "/deliveries/events", { events: requests[next++] });
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  const accepted = performance.now();
  const done = await until(async () => (await benchCounts(api.base)).events - before >= events, {
    every: 100,
    kick: api.base,
  });
  const seconds = (done - started) / 1000;
  log(
    `bounces: ${events} events recorded in ${seconds.toFixed(2)} s (accepted in ${((accepted - started) / 1000).toFixed(2)} s)`,
  );
  return {
    bounce_events_per_s: events / seconds,
    bounce_events_accepted_per_s: events / ((accepted - started) / 1000),
  };
}

/**
 * `count` e-mails due at once under SEND_RATE_PER_SECOND = `rate`, with the local transport answering 429 to a share
 * of the sends (LOCAL_TRANSPORT_429_RATE). The send rate is the slope of delivery attempts (every call to the
 * transport, accepted or 429) over the middle 80 % of the run; the error is |rate − configured| / configured.
 * Every e-mail must end sent, none failed.
 */
export async function benchThrottle(api, { rate, count = 800 } = {}) {
  const start = await benchCounts(api.base);
  await sendTo(api, { name: "Throttle", count, waitSent: false });
  const samples = [];
  for (;;) {
    const c = await benchCounts(api.base);
    samples.push({
      t: performance.now(),
      attempts: c.attempts - start.attempts,
      sent: c.sent - start.sent,
      failed: c.failed,
    });
    if (c.sent - start.sent >= count || c.failed > start.failed) break;
    if (samples.length > 4 * 600) throw new Error("throttle benchmark: timed out");
    await sleep(250);
  }
  const last = samples[samples.length - 1];
  const total = last.attempts;
  const at = (share) => samples.find((s) => s.attempts >= total * share);
  const lo = at(0.1);
  const hi = at(0.9);
  const measured = (hi.attempts - lo.attempts) / ((hi.t - lo.t) / 1000);
  const first = samples.find((s) => s.attempts > 0);
  const accepted = last.sent / ((last.t - first.t) / 1000);
  log(
    `throttle: ${total} attempts for ${last.sent} sent; ${measured.toFixed(1)}/s against ${rate}/s; ${last.failed - start.failed} failed`,
  );
  return {
    throttle_rate_error: Math.abs(measured - rate) / rate,
    throttle_sent_per_s: measured,
    throttle_accepted_per_s: accepted,
    throttle_attempts_per_email: total / last.sent,
    throttle_failed: last.failed - start.failed,
  };
}
