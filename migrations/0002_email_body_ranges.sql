ALTER TABLE `emails` ADD `body_offset` integer;--> statement-breakpoint
ALTER TABLE `emails` ADD `body_length` integer;