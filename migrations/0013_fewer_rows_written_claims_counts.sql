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
DROP INDEX `emails_activity`;--> statement-breakpoint
DROP INDEX `emails_sending`;--> statement-breakpoint
DROP INDEX `emails_provider_message`;--> statement-breakpoint
CREATE INDEX `emails_provider_message` ON `emails` (`provider_message_id`) WHERE provider_message_id IS NOT NULL;--> statement-breakpoint
DROP INDEX `record_activities_stats`;--> statement-breakpoint
DROP INDEX `record_activities_due`;--> statement-breakpoint
CREATE INDEX `record_activities_done` ON `record_activities` (`activity_id`,`at`,`email_opened`,`email_clicked`) WHERE state = 'done';--> statement-breakpoint
CREATE INDEX `record_activities_ended` ON `record_activities` (`at`) WHERE state IN ('cancelled', 'failed');--> statement-breakpoint
CREATE INDEX `record_activities_due` ON `record_activities` (`shard`,`parked`,`at`) WHERE state = 'waiting';--> statement-breakpoint
ALTER TABLE `activities` ADD `count_waiting` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `activities` ADD `count_cancelled` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `activities` ADD `count_failed` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- hand-written: the counts of scenario records and of done record activities move from row triggers to one statement a batch (src/engine/enroll.ts, src/engine/commit.ts); blocked, opened, clicked and converted stay on triggers
DROP TRIGGER `scenario_records_count_insert`;
--> statement-breakpoint
CREATE TRIGGER `scenario_records_count_insert` AFTER INSERT ON `scenario_records`
WHEN NEW.blocked
BEGIN
  UPDATE scenarios SET count_blocked = count_blocked + 1 WHERE id = NEW.scenario_id;
END;
--> statement-breakpoint
DROP TRIGGER `record_activities_count_insert`;
--> statement-breakpoint
CREATE TRIGGER `record_activities_count_insert` AFTER INSERT ON `record_activities`
WHEN NEW.email_opened OR NEW.email_clicked
BEGIN
  UPDATE activities SET count_opened = count_opened + NEW.email_opened, count_clicked = count_clicked + NEW.email_clicked
  WHERE id = NEW.activity_id;
END;
--> statement-breakpoint
DROP TRIGGER `record_activities_count_update`;
--> statement-breakpoint
CREATE TRIGGER `record_activities_count_update` AFTER UPDATE OF email_opened, email_clicked ON `record_activities`
WHEN NEW.email_opened != OLD.email_opened OR NEW.email_clicked != OLD.email_clicked
BEGIN
  UPDATE activities SET count_opened = count_opened + NEW.email_opened - OLD.email_opened,
    count_clicked = count_clicked + NEW.email_clicked - OLD.email_clicked
  WHERE id = NEW.activity_id;
END;
--> statement-breakpoint
-- hand-written: record activities claimed before the upgrade get their claims rows, so a lapsed one is taken over
INSERT INTO `claims` (`key`, `shard`, `until`, `ids`, `created_at`)
SELECT `claim_key`, `shard`, max(coalesce(`claimed_until`, 0)), json_group_array(`id`), 0
FROM `record_activities` WHERE `state` = 'running' AND `claim_key` IS NOT NULL
GROUP BY `claim_key`, `shard`;
--> statement-breakpoint
-- hand-written: record activities not finished, cancelled and failed counted on their activity's row, backfilled once with one grouped scan, then kept by the engine's batch statements (created waiting, done) and by triggers (cancelled, failed, deleted while not finished)
WITH c AS (
  SELECT activity_id, coalesce(sum(state IN ('waiting', 'running')), 0) AS w, coalesce(sum(state = 'cancelled'), 0) AS c,
         coalesce(sum(state = 'failed'), 0) AS f
  FROM record_activities GROUP BY activity_id
)
UPDATE `activities` SET `count_waiting` = c.w, `count_cancelled` = c.c, `count_failed` = c.f FROM c WHERE c.activity_id = activities.id;
--> statement-breakpoint
CREATE TRIGGER `record_activities_count_ended_insert` AFTER INSERT ON `record_activities`
WHEN NEW.state IN ('cancelled', 'failed')
BEGIN
  UPDATE activities SET count_cancelled = count_cancelled + (NEW.state = 'cancelled'),
    count_failed = count_failed + (NEW.state = 'failed')
  WHERE id = NEW.activity_id;
END;
--> statement-breakpoint
CREATE TRIGGER `record_activities_count_ended` AFTER UPDATE OF state ON `record_activities`
WHEN OLD.state IN ('waiting', 'running') AND NEW.state IN ('cancelled', 'failed')
BEGIN
  UPDATE activities SET count_waiting = count_waiting - 1, count_cancelled = count_cancelled + (NEW.state = 'cancelled'),
    count_failed = count_failed + (NEW.state = 'failed')
  WHERE id = NEW.activity_id;
END;
--> statement-breakpoint
CREATE TRIGGER `record_activities_count_deleted` AFTER DELETE ON `record_activities`
WHEN OLD.state IN ('waiting', 'running')
BEGIN
  UPDATE activities SET count_waiting = count_waiting - 1 WHERE id = OLD.activity_id;
END;
