DROP INDEX `record_activities_due`;--> statement-breakpoint
ALTER TABLE `record_activities` ADD `parked` integer DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX `record_activities_due` ON `record_activities` (`shard`,`parked`,`state`,`at`);--> statement-breakpoint
-- Rows that cannot run now: their scenario is not running, or their record is blocked.
UPDATE `record_activities` SET `parked` = 1
WHERE `state` = 'waiting' AND (
  `scenario_id` IN (SELECT `id` FROM `scenarios` WHERE `state` != 'running')
  OR `scenario_record_id` IN (SELECT `id` FROM `scenario_records` WHERE `blocked` = 1)
);
