// Records upserted per second: 1,000-record batch calls against single-record PUTs (the baseline) in the same run.
import { loadParties, log } from "./lib.mjs";

export async function benchRecords(api, { batchRecords = 20_000, singleRecords = 500 } = {}) {
  const t0 = performance.now();
  await loadParties(api, { count: batchRecords, prefix: "rb", concurrency: 2 });
  const batchSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  for (let i = 0; i < singleRecords; i++) {
    await api("PUT", `/records/party/rs${i}`, { name: `Single ${i}`, email: `rs${i}@example.com` });
  }
  const singleSeconds = (performance.now() - t1) / 1000;
  const batch = batchRecords / batchSeconds;
  const single = singleRecords / singleSeconds;
  log(`records: batch ${Math.round(batch)}/s, single PUT ${Math.round(single)}/s`);
  return {
    records_upserted_per_s_batch: batch,
    records_upserted_per_s_single: single,
    records_batch_ratio: batch / single,
  };
}
