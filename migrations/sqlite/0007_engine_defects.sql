ALTER TABLE `tasks` ADD `not_found_streak` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `tasks` ADD `produced_units` integer;--> statement-breakpoint
ALTER TABLE `tasks` ADD `underbilled` integer DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX `tasks_provider_next_poll` ON `tasks` (`provider`,`next_poll_at`);