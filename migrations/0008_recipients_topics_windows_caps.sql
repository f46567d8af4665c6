CREATE TABLE `scenario_topics` (
	`scenario_id` integer NOT NULL,
	`topic_id` text NOT NULL,
	PRIMARY KEY(`scenario_id`, `topic_id`),
	FOREIGN KEY (`scenario_id`) REFERENCES `scenarios`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`topic_id`) REFERENCES `topics`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `scenario_topics_topic` ON `scenario_topics` (`topic_id`);--> statement-breakpoint
CREATE TABLE `send_slots` (
	`record_activity_id` integer PRIMARY KEY NOT NULL,
	`party_id` text NOT NULL,
	`scenario_id` integer NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `send_slots_party` ON `send_slots` (`party_id`,`at`);--> statement-breakpoint
CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `topic_opt_outs` (
	`party_id` text NOT NULL,
	`topic_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`party_id`, `topic_id`)
);
--> statement-breakpoint
CREATE TABLE `topics` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `activities` ADD `email_translations` text;--> statement-breakpoint
ALTER TABLE `activities` ADD `send_window` text;--> statement-breakpoint
ALTER TABLE `scenarios` ADD `send_window` text;--> statement-breakpoint
ALTER TABLE `scenarios` ADD `time_zone` text;--> statement-breakpoint
ALTER TABLE `scenarios` ADD `frequency_cap` text;