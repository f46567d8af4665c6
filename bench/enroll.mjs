// Enrollment: records enrolled per second (scenario records and their root record activities together) for 100,000
// and 1,000,000 matching records, and how the time grows between the two (10 would be linear).
import { loadParties, log, until } from "./lib.mjs";

async function enrollScenario(api, { name, domain, expected }) {
  const s = await api("POST", "/scenarios", { name, model: "party", domain });
  // A root activity far in the future: enrollment creates its record activities, nothing executes during the bench.
  const root = await api("POST", `/scenarios/${s.id}/activities`, { name: "Later", delay: "P30D" });
  const t0 = performance.now();
  await api("POST", `/scenarios/${s.id}/run`);
  // Progress comes from the scenario's Enroller (no D1 read competing with the enrollment), then the count once.
  const t1 = await until(async () => !(await api("GET", `/scenarios/${s.id}/enrollment`)).running, {
    every: 250,
  });
  const count = (await api("GET", `/scenarios/${s.id}`)).record_count;
  if (count !== expected) throw new Error(`enrolled ${count} records, expected ${expected}`);
  const activity = await api("GET", `/scenarios/${s.id}/record-activities?activity_id=${root.id}&limit=1`);
  if (activity.items.length === 0) throw new Error("no root record activities were created");
  await api("POST", `/scenarios/${s.id}/stop`);
  return (t1 - t0) / 1000;
}

export async function benchEnroll(api, { small = 100_000, large = 1_000_000 } = {}) {
  log(`enroll: loading ${small} records`);
  await loadParties(api, { count: small, prefix: "ea", fields: () => ({ cohort: "small" }) });
  const smallSeconds = await enrollScenario(api, {
    name: "Enroll small",
    domain: [["cohort", "=", "small"]],
    expected: small,
  });
  log(`enroll: ${small} records in ${smallSeconds.toFixed(2)} s; loading ${large - small} more`);
  await loadParties(api, { count: large - small, prefix: "eb", fields: () => ({ cohort: "large" }) });
  const largeSeconds = await enrollScenario(api, {
    name: "Enroll large",
    domain: [["cohort", "in", ["small", "large"]]],
    expected: large,
  });
  log(`enroll: ${large} records in ${largeSeconds.toFixed(2)} s`);
  return {
    enroll_records_per_s_100k: small / smallSeconds,
    enroll_records_per_s_1m: large / largeSeconds,
    enroll_time_growth_1m_over_100k: largeSeconds / smallSeconds,
    enroll_size_growth: large / small,
  };
}
