ALTER TABLE `activities` ADD `settings` text;--> statement-breakpoint
ALTER TABLE `activities` ADD `weight` integer;