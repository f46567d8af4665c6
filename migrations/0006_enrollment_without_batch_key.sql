DROP INDEX `scenario_records_batch`;--> statement-breakpoint
ALTER TABLE `scenario_records` DROP COLUMN `enroll_batch`;