CREATE TABLE `sequences` (
	`name` text PRIMARY KEY NOT NULL,
	`value` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `emails` ADD `link_urls` text;--> statement-breakpoint
ALTER TABLE `scenarios` ADD `enroll_pending` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `scenarios` ADD `enroll_pending_since` integer;--> statement-breakpoint
-- hand-written: running scenarios owe one enrollment pass after the upgrade (until now the five-minute cron passed them every time)
UPDATE `scenarios` SET `enroll_pending` = 1, `enroll_pending_since` = 0 WHERE `state` = 'running';
