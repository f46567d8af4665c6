DROP INDEX `emails_activity`;--> statement-breakpoint
DROP INDEX `emails_sending`;--> statement-breakpoint
DROP INDEX `emails_provider_message`;--> statement-breakpoint
CREATE INDEX `emails_provider_message` ON `emails` (`provider_message_id`) WHERE provider_message_id IS NOT NULL;--> statement-breakpoint
-- hand-written: the counts of scenario records and of done record activities move from row triggers to one statement a batch (src/engine/enroll.ts, src/engine/commit.ts); blocked, opened, clicked and converted stay on triggers
DROP TRIGGER `scenario_records_count_insert`;
--> statement-breakpoint
CREATE TRIGGER `scenario_records_count_insert` AFTER INSERT ON `scenario_records`
WHEN NEW.blocked
BEGIN
  UPDATE scenarios SET count_blocked = count_blocked + 1 WHERE id = NEW.scenario_id;
END;
--> statement-breakpoint
DROP TRIGGER `record_activities_count_insert`;
--> statement-breakpoint
CREATE TRIGGER `record_activities_count_insert` AFTER INSERT ON `record_activities`
WHEN NEW.email_opened OR NEW.email_clicked
BEGIN
  UPDATE activities SET count_opened = count_opened + NEW.email_opened, count_clicked = count_clicked + NEW.email_clicked
  WHERE id = NEW.activity_id;
END;
--> statement-breakpoint
DROP TRIGGER `record_activities_count_update`;
--> statement-breakpoint
CREATE TRIGGER `record_activities_count_update` AFTER UPDATE OF email_opened, email_clicked ON `record_activities`
WHEN NEW.email_opened != OLD.email_opened OR NEW.email_clicked != OLD.email_clicked
BEGIN
  UPDATE activities SET count_opened = count_opened + NEW.email_opened - OLD.email_opened,
    count_clicked = count_clicked + NEW.email_clicked - OLD.email_clicked
  WHERE id = NEW.activity_id;
END;
