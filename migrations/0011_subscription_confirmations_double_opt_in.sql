CREATE TABLE `subscription_confirmations` (
	`scenario_record_id` integer PRIMARY KEY NOT NULL,
	`scenario_id` integer NOT NULL,
	`party_id` text,
	`client` text,
	`confirmed_at` integer NOT NULL,
	FOREIGN KEY (`scenario_record_id`) REFERENCES `scenario_records`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `subscription_confirmations_scenario` ON `subscription_confirmations` (`scenario_id`,`confirmed_at`);--> statement-breakpoint
ALTER TABLE `scenarios` ADD `double_opt_in` integer DEFAULT false NOT NULL;