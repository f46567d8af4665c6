DROP INDEX `emails_provider_message`;--> statement-breakpoint
CREATE INDEX `emails_provider_message` ON `emails` (substr(`provider_message_id`, -10)) WHERE provider_message_id IS NOT NULL;
