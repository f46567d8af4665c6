ALTER TABLE `record_activities` ADD `email_status` text;--> statement-breakpoint
ALTER TABLE `record_activities` ADD `email_to` text;--> statement-breakpoint
ALTER TABLE `record_activities` ADD `email_from` text;--> statement-breakpoint
ALTER TABLE `record_activities` ADD `email_subject` text;--> statement-breakpoint
ALTER TABLE `record_activities` ADD `email_transport` text;--> statement-breakpoint
ALTER TABLE `record_activities` ADD `email_error` text;--> statement-breakpoint
ALTER TABLE `record_activities` ADD `email_body_key` text;--> statement-breakpoint
ALTER TABLE `record_activities` ADD `email_body_offset` integer;--> statement-breakpoint
ALTER TABLE `record_activities` ADD `email_body_length` integer;--> statement-breakpoint
ALTER TABLE `record_activities` ADD `email_attempt` integer;--> statement-breakpoint
ALTER TABLE `record_activities` ADD `email_link_urls` text;--> statement-breakpoint
ALTER TABLE `record_activities` ADD `email_provider_id` text;--> statement-breakpoint
ALTER TABLE `record_activities` ADD `email_sent_at` integer;--> statement-breakpoint
ALTER TABLE `record_activities` ADD `email_answered_at` integer;--> statement-breakpoint
ALTER TABLE `record_activities` ADD `email_created_at` integer;--> statement-breakpoint
CREATE INDEX `record_activities_email_provider` ON `record_activities` (substr(email_provider_id, -10)) WHERE email_provider_id IS NOT NULL;--> statement-breakpoint
-- hand-written: every archived e-mail, in one view (src/db/schema/emails.ts `emailArchive`). The CASTs give the
-- constants the affinity of the `emails` columns they stand beside: SQLite flattens a UNION ALL into the query that
-- reads it only when each column has one affinity in every arm, and the flattened query reads each arm by its index.
CREATE VIEW `email_archive` AS
SELECT id, record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from", subject, message_id,
  provider_message_id, headers, transport, status, error, body_key, body_offset, body_length, attempt, link_urls,
  sent_at, answered_at, created_at
FROM emails
UNION ALL
SELECT id, id, scenario_id, activity_id, scenario_record_id, email_to, email_from, email_subject, CAST('' AS TEXT),
  email_provider_id, CAST('{}' AS TEXT), email_transport, email_status, email_error, email_body_key, email_body_offset,
  email_body_length, email_attempt, email_link_urls, email_sent_at, email_answered_at, email_created_at
FROM record_activities
WHERE email_status IS NOT NULL;
