CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`action` text NOT NULL,
	`target` text NOT NULL,
	`before` text,
	`after` text,
	`request_id` text
);
--> statement-breakpoint
CREATE INDEX `audit_at` ON `audit_log` (`at`);--> statement-breakpoint
CREATE TABLE `provider_overrides` (
	`provider_id` text PRIMARY KEY NOT NULL,
	`enabled` integer,
	`priority` integer,
	`models` text,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `tasks_created` ON `tasks` (`created_at`);