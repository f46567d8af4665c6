// Deliverability: how fast delivery events (bounces, complaints…) are recorded through the queue, and how closely
// the send throttle holds its rate while the transport answers 429 some of the time.
import { loadParties, log, request, sleep, until } from "./lib.mjs";

async function benchCounts(base) {
  return request(base, "GET", "/__bench/deliverability");
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
  });
  const seconds = (done - started) / 1000;
  log(
    `bounces: ${events} events recorded in ${seconds.toFixed(2)} s (accepted in ${((accepted - started) / 1000).toFixed(2)} s)`,
  );
  const burst = await largestBurst(api, archived);
  return {
    bounce_events_per_s: events / seconds,
    bounce_events_accepted_per_s: events / ((accepted - started) / 1000),
    bounce_burst_bytes_accepted: burst,
  };
}

/**
 * The largest single burst stored whole: one request of events with 1,000-character details (hard bounces among
 * them), 5 MB, then 8,000,000 bytes (just under the 8 MiB body limit); the figure is the body size of the largest one
 * whose every event the queue consumer recorded. 0 when even 5 MB was not (a refused request counts as not stored).
 */
async function largestBurst(api, archived) {
  let stored = 0;
  for (const [n, size] of [5_000_000, 8_000_000].entries()) {
    const events = [];
    let bytes = 12; // {"events":[]}
    for (let i = 0; bytes < size - 1_200; i++) {
      const ev = {
        id: `burst-${n}-${i}`,
        kind: i % 10 === 0 ? "hard_bounce" : "soft_bounce",
        provider_message_id: archived[i % archived.length],
        detail: `550 5.1.1 ${"x".repeat(990)}`,
      };
      bytes += JSON.stringify(ev).length + 1;
      events.push(ev);
    }
    const body = JSON.stringify({ events });
    const before = (await benchCounts(api.base)).events;
    try {
      await api("POST", "/deliveries/events", { events });
    } catch (err) {
      log(`bounces: a burst of ${body.length} bytes was refused: ${String(err).slice(0, 200)}`);
      break;
    }
    try {
      await until(async () => (await benchCounts(api.base)).events - before >= events.length, {
        every: 250,
        timeoutMs: 120_000,
      });
    } catch {
      log(`bounces: a burst of ${body.length} bytes was not stored whole within 2 minutes`);
      break;
    }
    log(`bounces: a burst of ${events.length} events (${body.length} bytes) stored whole`);
    stored = body.length;
  }
  return stored;
}

/**
 * `count` e-mails due at once under SEND_RATE_PER_SECOND = `rate`, with the local transport answering 429 to a share
 * of the sends (LOCAL_TRANSPORT_429_RATE). The send rate is what the provider sees: calls to the transport (accepted
 * or 429, by the time each was answered, `emails.answered_at`) over the middle 80 % of them; the error is
 * |rate − configured| / configured. Every e-mail must end sent, none failed.
 */
export async function benchThrottle(api, { rate, count = 800 } = {}) {
  const start = await benchCounts(api.base);
  const { scenario } = await sendTo(api, { name: "Throttle", count, waitSent: false });
  let last;
  for (let polls = 0; ; polls++) {
    last = await benchCounts(api.base);
    if (last.sent - start.sent >= count || last.failed > start.failed) break;
    if (polls > 4 * 600) throw new Error("throttle benchmark: timed out");
    await sleep(250);
  }
  const calls = await request(api.base, "GET", `/__bench/deliverability/calls?scenario_id=${scenario.id}`);
  const lo = Math.floor(calls.length * 0.1);
  const hi = Math.ceil(calls.length * 0.9) - 1;
  const measured = (hi - lo) / ((calls[hi] - calls[lo]) / 1000);
  const sent = last.sent - start.sent;
  const accepted = sent / ((calls[calls.length - 1] - calls[0]) / 1000);
  log(
    `throttle: ${calls.length} calls for ${sent} sent; ${measured.toFixed(1)}/s against ${rate}/s; ${last.failed - start.failed} failed`,
  );
  return {
    throttle_rate_error: Math.abs(measured - rate) / rate,
    throttle_sent_per_s: measured,
    throttle_accepted_per_s: accepted,
    throttle_calls_per_email: calls.length / sent,
    throttle_failed: last.failed - start.failed,
  };
}
