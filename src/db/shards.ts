/**
 * Record activities are spread over this many scheduler Durable Objects (by scenario record id), so no single object
 * wakes for all the work. Each row stores its shard; changing the count only affects rows created afterwards, and the
 * sweep serves every shard that has rows.
 */
export const SHARD_COUNT = 8;

export const shardOf = (scenarioRecordId: number) => scenarioRecordId % SHARD_COUNT;

/** SQL expression computing the shard of a scenario record id column. */
export const shardSql = (column: string) => `(${column} % ${SHARD_COUNT})`;
