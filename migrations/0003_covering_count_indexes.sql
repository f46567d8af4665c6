DROP INDEX `record_activities_activity`;--> statement-breakpoint
CREATE INDEX `record_activities_stats` ON `record_activities` (`activity_id`,`state`,`email_opened`,`email_clicked`);--> statement-breakpoint
CREATE INDEX `scenario_records_counts` ON `scenario_records` (`scenario_id`,`blocked`);