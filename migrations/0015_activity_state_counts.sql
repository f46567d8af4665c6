DROP INDEX `record_activities_stats`;--> statement-breakpoint
CREATE INDEX `record_activities_done` ON `record_activities` (`activity_id`,`at`,`email_opened`,`email_clicked`) WHERE state = 'done';--> statement-breakpoint
ALTER TABLE `activities` ADD `count_waiting` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `activities` ADD `count_cancelled` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `activities` ADD `count_failed` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- hand-written: record activities not finished, cancelled and failed counted on their activity's row, backfilled once with one grouped scan, then kept by the engine's batch statements (created waiting, done) and by triggers (cancelled, failed, deleted while not finished)
WITH c AS (
  SELECT activity_id, coalesce(sum(state IN ('waiting', 'running')), 0) AS w, coalesce(sum(state = 'cancelled'), 0) AS c,
         coalesce(sum(state = 'failed'), 0) AS f
  FROM record_activities GROUP BY activity_id
)
UPDATE `activities` SET `count_waiting` = c.w, `count_cancelled` = c.c, `count_failed` = c.f FROM c WHERE c.activity_id = activities.id;
--> statement-breakpoint
CREATE TRIGGER `record_activities_count_ended_insert` AFTER INSERT ON `record_activities`
WHEN NEW.state IN ('cancelled', 'failed')
BEGIN
  UPDATE activities SET count_cancelled = count_cancelled + (NEW.state = 'cancelled'),
    count_failed = count_failed + (NEW.state = 'failed')
  WHERE id = NEW.activity_id;
END;
--> statement-breakpoint
CREATE TRIGGER `record_activities_count_ended` AFTER UPDATE OF state ON `record_activities`
WHEN OLD.state IN ('waiting', 'running') AND NEW.state IN ('cancelled', 'failed')
BEGIN
  UPDATE activities SET count_waiting = count_waiting - 1, count_cancelled = count_cancelled + (NEW.state = 'cancelled'),
    count_failed = count_failed + (NEW.state = 'failed')
  WHERE id = NEW.activity_id;
END;
--> statement-breakpoint
CREATE TRIGGER `record_activities_count_deleted` AFTER DELETE ON `record_activities`
WHEN OLD.state IN ('waiting', 'running')
BEGIN
  UPDATE activities SET count_waiting = count_waiting - 1 WHERE id = OLD.activity_id;
END;
