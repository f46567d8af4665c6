DROP INDEX `hits_activity`;--> statement-breakpoint
CREATE INDEX `hits_activity` ON `hits` (`activity_id`,`at`) WHERE human = 0;