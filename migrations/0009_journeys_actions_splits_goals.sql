ALTER TABLE `record_activities` ADD `email_clicked_at` integer;--> statement-breakpoint
ALTER TABLE `scenario_records` ADD `goal_reached_at` integer;--> statement-breakpoint
ALTER TABLE `scenario_records` ADD `goal_activity_id` integer;--> statement-breakpoint
CREATE INDEX `scenario_records_conversions` ON `scenario_records` (`goal_activity_id`,`goal_reached_at`) WHERE goal_activity_id IS NOT NULL;--> statement-breakpoint
ALTER TABLE `activities` ADD `settings` text;--> statement-breakpoint
ALTER TABLE `activities` ADD `weight` integer;--> statement-breakpoint
ALTER TABLE `scenarios` ADD `goal` text;