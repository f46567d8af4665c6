DROP INDEX `record_activities_scenario`;--> statement-breakpoint
CREATE INDEX `record_activities_scenario_legacy` ON `record_activities` (`scenario_id`,`scenario_record_id`,`activity_id`) WHERE scenario_record_id < 4294967296;--> statement-breakpoint
-- hand-written: re-parking keeps its place by scenario record id now (it was a record activity id): one left unfinished starts over, which re-parks the same rows
UPDATE `scenarios` SET `repark_from` = 0 WHERE `repark_from` IS NOT NULL;
