CREATE TABLE `files` (
	`id` text PRIMARY KEY NOT NULL,
	`key_id` text NOT NULL,
	`purpose` text NOT NULL,
	`token` text NOT NULL,
	`sha256` text NOT NULL,
	`bytes` integer NOT NULL,
	`content_type` text NOT NULL,
	`duration_s` real,
	`width` integer,
	`height` integer,
	`task_id` text,
	`upstream_url` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`deleted_at` integer,
	`purged_at` integer,
	FOREIGN KEY (`key_id`) REFERENCES `api_keys`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `files_token` ON `files` (`token`);--> statement-breakpoint
CREATE INDEX `files_key_id` ON `files` (`key_id`,`id`);--> statement-breakpoint
CREATE INDEX `files_sha256` ON `files` (`sha256`);--> statement-breakpoint
CREATE INDEX `files_expires` ON `files` (`expires_at`);--> statement-breakpoint
CREATE TABLE `mirror_jobs` (
	`task_id` text PRIMARY KEY NOT NULL,
	`attempt_id` text NOT NULL,
	`upstream_status` text NOT NULL,
	`outcome` text,
	`file_ids` text DEFAULT '[]' NOT NULL,
	`tries` integer DEFAULT 0 NOT NULL,
	`next_at` integer NOT NULL,
	`last_error` text,
	`done_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `mirror_jobs_due` ON `mirror_jobs` (`done_at`,`next_at`);--> statement-breakpoint
ALTER TABLE `tasks` ADD `result_files` text;