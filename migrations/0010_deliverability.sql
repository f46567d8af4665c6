CREATE TABLE `delivery_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`event_id` text NOT NULL,
	`email_id` integer NOT NULL,
	`record_activity_id` integer NOT NULL,
	`kind` text NOT NULL,
	`address` text NOT NULL,
	`detail` text,
	`provider` text NOT NULL,
	`at` integer NOT NULL,
	`received_at` integer NOT NULL,
	`receipt` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `delivery_events_event_id_unique` ON `delivery_events` (`event_id`);--> statement-breakpoint
CREATE INDEX `delivery_events_email` ON `delivery_events` (`email_id`,`at`);--> statement-breakpoint
CREATE INDEX `delivery_events_record_activity` ON `delivery_events` (`record_activity_id`,`at`);--> statement-breakpoint
CREATE INDEX `delivery_events_address` ON `delivery_events` (`address`,`kind`);--> statement-breakpoint
CREATE TABLE `suppressions` (
	`address` text PRIMARY KEY NOT NULL,
	`reason` text NOT NULL,
	`source` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `emails` ADD `provider_message_id` text;--> statement-breakpoint
ALTER TABLE `emails` ADD `answered_at` integer;--> statement-breakpoint
CREATE INDEX `emails_provider_message` ON `emails` (`provider_message_id`);--> statement-breakpoint
CREATE INDEX `emails_sending` ON `emails` (`created_at`) WHERE status = 'sending';