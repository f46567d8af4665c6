CREATE TABLE `sequences` (
	`name` text PRIMARY KEY NOT NULL,
	`value` integer NOT NULL
);
--> statement-breakpoint
DROP INDEX `scenario_records_counts`;--> statement-breakpoint
ALTER TABLE `emails` ADD `link_urls` text;--> statement-breakpoint
ALTER TABLE `activities` ADD `count_done` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `activities` ADD `count_opened` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `activities` ADD `count_clicked` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `activities` ADD `count_converted` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `scenarios` ADD `enroll_pending` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `scenarios` ADD `enroll_pending_since` integer;--> statement-breakpoint
ALTER TABLE `scenarios` ADD `count_records` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `scenarios` ADD `count_blocked` integer DEFAULT 0 NOT NULL;--> statement-breakpoint-- hand-written: running scenarios owe one enrollment pass after the upgrade (until now the five-minute cron passed them every time)
UPDATE `scenarios` SET `enroll_pending` = 1, `enroll_pending_since` = 0 WHERE `state` = 'running';
--> statement-breakpoint
-- hand-written: counts kept on scenarios and activities by triggers, backfilled once with one grouped scan each
WITH c AS (SELECT scenario_id, count(*) AS n, coalesce(sum(blocked), 0) AS b FROM scenario_records GROUP BY scenario_id)
UPDATE `scenarios` SET `count_records` = c.n, `count_blocked` = c.b FROM c WHERE c.scenario_id = scenarios.id;
--> statement-breakpoint
WITH c AS (
  SELECT activity_id, coalesce(sum(state = 'done'), 0) AS d, coalesce(sum(email_opened), 0) AS o,
         coalesce(sum(email_clicked), 0) AS k
  FROM record_activities GROUP BY activity_id
)
UPDATE `activities` SET `count_done` = c.d, `count_opened` = c.o, `count_clicked` = c.k FROM c WHERE c.activity_id = activities.id;
--> statement-breakpoint
CREATE TRIGGER `scenario_records_count_insert` AFTER INSERT ON `scenario_records`
BEGIN
  UPDATE scenarios SET count_records = count_records + 1, count_blocked = count_blocked + NEW.blocked
  WHERE id = NEW.scenario_id;
END;
--> statement-breakpoint
CREATE TRIGGER `scenario_records_count_blocked` AFTER UPDATE OF blocked ON `scenario_records`
WHEN NEW.blocked != OLD.blocked
BEGIN
  UPDATE scenarios SET count_blocked = count_blocked + NEW.blocked - OLD.blocked WHERE id = NEW.scenario_id;
END;
--> statement-breakpoint
CREATE TRIGGER `record_activities_count_insert` AFTER INSERT ON `record_activities`
WHEN NEW.state = 'done' OR NEW.email_opened OR NEW.email_clicked
BEGIN
  UPDATE activities SET count_done = count_done + (NEW.state = 'done'), count_opened = count_opened + NEW.email_opened,
    count_clicked = count_clicked + NEW.email_clicked
  WHERE id = NEW.activity_id;
END;
--> statement-breakpoint
CREATE TRIGGER `record_activities_count_update` AFTER UPDATE OF state, email_opened, email_clicked ON `record_activities`
WHEN (NEW.state = 'done') != (OLD.state = 'done') OR NEW.email_opened != OLD.email_opened
  OR NEW.email_clicked != OLD.email_clicked
BEGIN
  UPDATE activities SET count_done = count_done + (NEW.state = 'done') - (OLD.state = 'done'),
    count_opened = count_opened + NEW.email_opened - OLD.email_opened,
    count_clicked = count_clicked + NEW.email_clicked - OLD.email_clicked
  WHERE id = NEW.activity_id;
END;
--> statement-breakpoint
-- hand-written: conversions kept on the activity they are attributed to, backfilled once with one grouped scan
WITH c AS (
  SELECT goal_activity_id, count(*) AS n FROM scenario_records WHERE goal_activity_id IS NOT NULL GROUP BY goal_activity_id
)
UPDATE `activities` SET `count_converted` = c.n FROM c WHERE c.goal_activity_id = activities.id;
--> statement-breakpoint
CREATE TRIGGER `scenario_records_count_converted` AFTER UPDATE OF goal_activity_id ON `scenario_records`
WHEN NEW.goal_activity_id IS NOT OLD.goal_activity_id
BEGIN
  UPDATE activities SET count_converted = count_converted - 1 WHERE id = OLD.goal_activity_id;
  UPDATE activities SET count_converted = count_converted + 1 WHERE id = NEW.goal_activity_id;
END;
