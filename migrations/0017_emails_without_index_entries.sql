DROP INDEX `emails_scenario`;--> statement-breakpoint
DROP INDEX `emails_record_activity`;--> statement-breakpoint
CREATE INDEX `emails_record_activity` ON `emails` (`record_activity_id`) WHERE id <> record_activity_id;--> statement-breakpoint
-- hand-written: the `emails` sequence continues at or above EMAIL_SEQUENCE_BASE (2^52), above every record activity id (first attempts take their record activity's id); existing rows keep their ids
INSERT INTO sequences (name, value) VALUES ('emails', max(4503599627370495, (SELECT COALESCE(MAX(id), 0) FROM emails)))
  ON CONFLICT (name) DO UPDATE SET value = max(value, 4503599627370495);
--> statement-breakpoint
-- hand-written: AUTOINCREMENT's counter at the same floor, so an e-mail inserted with its record activity's id (below it) does not write the counter's row: a placeholder row at 2^52 - 1 raises it, and is deleted at once (nothing reads it in between: the migration is one transaction)
INSERT INTO emails (id, record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from", subject,
  message_id, headers, transport, status, body_key, attempt, created_at)
SELECT 4503599627370495, 0, 0, 0, 0, '', '', '', '', '{}', '', 'abandoned', '', 0, 0
WHERE NOT EXISTS (SELECT 1 FROM emails WHERE id >= 4503599627370495);
--> statement-breakpoint
DELETE FROM emails WHERE id = 4503599627370495 AND record_activity_id = 0 AND transport = '';
