CREATE TABLE `models` (
	`name` text PRIMARY KEY NOT NULL,
	`party_field` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `records` (
	`model` text NOT NULL,
	`id` text NOT NULL,
	`fields` text NOT NULL,
	`party_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`model`, `id`)
);
--> statement-breakpoint
CREATE INDEX `records_party` ON `records` (`model`,`party_id`);--> statement-breakpoint
CREATE TABLE `activities` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`scenario_id` integer NOT NULL,
	`parent_id` integer,
	`name` text NOT NULL,
	`on` text,
	`condition` text,
	`delay` text,
	`action` text,
	`email_from` text,
	`email_title` text,
	`email_template` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`scenario_id`) REFERENCES `scenarios`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `activities_scenario` ON `activities` (`scenario_id`);--> statement-breakpoint
CREATE INDEX `activities_parent` ON `activities` (`parent_id`);--> statement-breakpoint
CREATE TABLE `scenarios` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`model` text NOT NULL,
	`domain` text NOT NULL,
	`unsubscribable` integer DEFAULT false NOT NULL,
	`state` text DEFAULT 'draft' NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `unsubscriptions` (
	`scenario_id` integer NOT NULL,
	`party_id` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`scenario_id`) REFERENCES `scenarios`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `unsubscriptions_key` ON `unsubscriptions` (`scenario_id`,`party_id`);--> statement-breakpoint
CREATE TABLE `record_activities` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`scenario_record_id` integer NOT NULL,
	`activity_id` integer NOT NULL,
	`scenario_id` integer NOT NULL,
	`shard` integer NOT NULL,
	`state` text DEFAULT 'waiting' NOT NULL,
	`at` integer,
	`due_at` integer,
	`email_opened` integer DEFAULT false NOT NULL,
	`email_clicked` integer DEFAULT false NOT NULL,
	`reason` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`claim_key` text,
	`claimed_until` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`scenario_record_id`) REFERENCES `scenario_records`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`activity_id`) REFERENCES `activities`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `record_activities_once` ON `record_activities` (`scenario_record_id`,`activity_id`);--> statement-breakpoint
CREATE INDEX `record_activities_due` ON `record_activities` (`shard`,`state`,`at`);--> statement-breakpoint
CREATE INDEX `record_activities_activity` ON `record_activities` (`activity_id`,`state`);--> statement-breakpoint
CREATE INDEX `record_activities_scenario` ON `record_activities` (`scenario_id`,`id`);--> statement-breakpoint
CREATE TABLE `scenario_records` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`scenario_id` integer NOT NULL,
	`model` text NOT NULL,
	`record_id` text NOT NULL,
	`party_id` text,
	`blocked` integer DEFAULT false NOT NULL,
	`token` text NOT NULL,
	`enroll_batch` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`scenario_id`) REFERENCES `scenarios`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `scenario_records_once` ON `scenario_records` (`scenario_id`,`model`,`record_id`);--> statement-breakpoint
CREATE INDEX `scenario_records_token` ON `scenario_records` (`token`);--> statement-breakpoint
CREATE INDEX `scenario_records_batch` ON `scenario_records` (`enroll_batch`);--> statement-breakpoint
CREATE TABLE `emails` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`record_activity_id` integer NOT NULL,
	`scenario_id` integer NOT NULL,
	`activity_id` integer NOT NULL,
	`scenario_record_id` integer NOT NULL,
	`to` text NOT NULL,
	`from` text NOT NULL,
	`subject` text NOT NULL,
	`message_id` text NOT NULL,
	`headers` text NOT NULL,
	`transport` text NOT NULL,
	`status` text NOT NULL,
	`error` text,
	`body_key` text NOT NULL,
	`attempt` integer NOT NULL,
	`sent_at` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `emails_record_activity` ON `emails` (`record_activity_id`);--> statement-breakpoint
CREATE INDEX `emails_scenario` ON `emails` (`scenario_id`,`id`);--> statement-breakpoint
CREATE INDEX `emails_activity` ON `emails` (`activity_id`,`id`);--> statement-breakpoint
CREATE TABLE `hits` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`link_key` text,
	`email_id` integer,
	`record_activity_id` integer,
	`scenario_id` integer,
	`activity_id` integer,
	`human` integer NOT NULL,
	`reason` text,
	`client` text,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `hits_record_activity` ON `hits` (`record_activity_id`,`at`);--> statement-breakpoint
CREATE INDEX `hits_activity` ON `hits` (`activity_id`,`at`);--> statement-breakpoint
CREATE TABLE `links` (
	`key` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`email_id` integer NOT NULL,
	`record_activity_id` integer NOT NULL,
	`url` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `links_email` ON `links` (`email_id`);