CREATE TABLE `claims` (
	`key` text NOT NULL,
	`shard` integer NOT NULL,
	`until` integer NOT NULL,
	`ids` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`key`, `shard`)
);
--> statement-breakpoint
CREATE INDEX `claims_shard` ON `claims` (`shard`,`until`);--> statement-breakpoint
DROP INDEX `record_activities_due`;--> statement-breakpoint
DROP INDEX `record_activities_stats`;--> statement-breakpoint
CREATE INDEX `record_activities_due` ON `record_activities` (`shard`,`parked`,`at`) WHERE state = 'waiting';--> statement-breakpoint
CREATE INDEX `record_activities_stats` ON `record_activities` (`activity_id`,`state`,`email_opened`,`email_clicked`) WHERE state != 'running';--> statement-breakpoint
-- hand-written: record activities claimed before the upgrade get their claims rows, so a lapsed one is taken over
INSERT INTO `claims` (`key`, `shard`, `until`, `ids`, `created_at`)
SELECT `claim_key`, `shard`, max(coalesce(`claimed_until`, 0)), json_group_array(`id`), 0
FROM `record_activities` WHERE `state` = 'running' AND `claim_key` IS NOT NULL
GROUP BY `claim_key`, `shard`;
