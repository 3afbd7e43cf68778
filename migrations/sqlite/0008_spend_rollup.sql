CREATE TABLE `spend_daily` (
	`day` text NOT NULL,
	`key_id` text NOT NULL,
	`model` text NOT NULL,
	`provider` text NOT NULL,
	`tasks` integer DEFAULT 0 NOT NULL,
	`completed` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	`cancelled` integer DEFAULT 0 NOT NULL,
	`billable_units` integer DEFAULT 0 NOT NULL,
	`reserved_micros` integer DEFAULT 0 NOT NULL,
	`charged_micros` integer DEFAULT 0 NOT NULL,
	`refunded_micros` integer DEFAULT 0 NOT NULL,
	`upstream_cost_micros` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`day`, `key_id`, `model`, `provider`)
);
--> statement-breakpoint
CREATE INDEX `spend_daily_key_day` ON `spend_daily` (`key_id`,`day`);