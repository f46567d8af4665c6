DROP INDEX `record_activities_done`;--> statement-breakpoint
ALTER TABLE `record_activities` ADD `emailed` integer DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX `record_activities_done_unemailed` ON `record_activities` (`at`) WHERE state = 'done' AND emailed = 0;--> statement-breakpoint
-- hand-written: done record activities that sent an e-mail are marked `emailed` (they leave D1 with their e-mails, so retention's index of done rows holds only the others)
UPDATE `record_activities` SET `emailed` = 1
WHERE `state` = 'done' AND EXISTS (SELECT 1 FROM `emails` m WHERE m.`record_activity_id` = `record_activities`.`id`);
--> statement-breakpoint
-- hand-written: reports read done, opened and clicked from activity_days for every day: the done record activities still in D1 are added, by activity and the UTC day they finished, to the rows retention wrote for the ones it removed (those are no longer in D1, so nothing is counted twice)
INSERT INTO `activity_days` (`activity_id`, `day`, `done`, `opened`, `clicked`)
SELECT `activity_id`, strftime('%Y-%m-%d', `at` / 1000, 'unixepoch'), count(*), coalesce(sum(`email_opened`), 0),
  coalesce(sum(`email_clicked`), 0)
FROM `record_activities` WHERE `state` = 'done' AND `at` IS NOT NULL
GROUP BY 1, 2
ON CONFLICT (`activity_id`, `day`) DO UPDATE SET `done` = `done` + excluded.`done`, `opened` = `opened` + excluded.`opened`,
  `clicked` = `clicked` + excluded.`clicked`;
--> statement-breakpoint
-- hand-written: an open or click recorded on a done record activity also counts on its activity's day in activity_days (the day it finished, as reports count it); one that came while the e-mail was being sent is added by the commit that makes the row done
DROP TRIGGER `record_activities_count_update`;
--> statement-breakpoint
CREATE TRIGGER `record_activities_count_update` AFTER UPDATE OF email_opened, email_clicked ON `record_activities`
WHEN NEW.email_opened != OLD.email_opened OR NEW.email_clicked != OLD.email_clicked
BEGIN
  UPDATE activities SET count_opened = count_opened + NEW.email_opened - OLD.email_opened,
    count_clicked = count_clicked + NEW.email_clicked - OLD.email_clicked
  WHERE id = NEW.activity_id;
  INSERT INTO activity_days (activity_id, day, opened, clicked)
  SELECT NEW.activity_id, strftime('%Y-%m-%d', NEW.at / 1000, 'unixepoch'), NEW.email_opened - OLD.email_opened,
    NEW.email_clicked - OLD.email_clicked
  WHERE NEW.state = 'done' AND NEW.at IS NOT NULL
  ON CONFLICT (activity_id, day) DO UPDATE SET opened = opened + excluded.opened, clicked = clicked + excluded.clicked;
END;
