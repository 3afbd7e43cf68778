CREATE TABLE `provider_health` (
	`provider` text NOT NULL,
	`model` text NOT NULL,
	`outcomes` text DEFAULT '' NOT NULL,
	`completions` text DEFAULT '[]' NOT NULL,
	`consecutive_failures` integer DEFAULT 0 NOT NULL,
	`open_until` integer,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`provider`, `model`)
);
--> statement-breakpoint
ALTER TABLE `api_keys` ADD `route` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `route` text;