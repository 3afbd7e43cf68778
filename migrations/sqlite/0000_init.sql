CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`key_hash` text NOT NULL,
	`prefix` text NOT NULL,
	`webhook_secret` text NOT NULL,
	`balance_micros` integer,
	`daily_budget_micros` integer,
	`monthly_budget_micros` integer,
	`created_at` integer NOT NULL,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_key_hash_unique` ON `api_keys` (`key_hash`);--> statement-breakpoint
CREATE TABLE `elements` (
	`id` text PRIMARY KEY NOT NULL,
	`key_id` text NOT NULL,
	`provider_id` text NOT NULL,
	`upstream_element_id` text NOT NULL,
	`task_id` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`key_id`) REFERENCES `api_keys`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `attempts` (
	`id` text PRIMARY KEY NOT NULL,
	`task_id` text NOT NULL,
	`seq` integer NOT NULL,
	`provider_id` text NOT NULL,
	`upstream_id` text,
	`status` text NOT NULL,
	`unit_cost_micros` integer NOT NULL,
	`error_code` text,
	`error_message` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`task_id`) REFERENCES `tasks`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `attempts_task_seq` ON `attempts` (`task_id`,`seq`);--> statement-breakpoint
CREATE INDEX `attempts_status` ON `attempts` (`status`);--> statement-breakpoint
CREATE TABLE `tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`key_id` text NOT NULL,
	`model` text NOT NULL,
	`quality` text NOT NULL,
	`status` text NOT NULL,
	`progress` integer DEFAULT 0 NOT NULL,
	`request` text NOT NULL,
	`callback_url` text,
	`billing_rule` text NOT NULL,
	`billable_units` integer NOT NULL,
	`unit_price_micros` integer NOT NULL,
	`list_priced` integer NOT NULL,
	`reserved_micros` integer NOT NULL,
	`charged_micros` integer DEFAULT 0 NOT NULL,
	`refunded_micros` integer DEFAULT 0 NOT NULL,
	`upstream_cost_micros` integer DEFAULT 0 NOT NULL,
	`provider` text,
	`pinned_provider` text,
	`results` text,
	`result_data` text,
	`error_code` text,
	`error_message` text,
	`estimated_time` integer,
	`next_poll_at` integer,
	`polls` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer,
	FOREIGN KEY (`key_id`) REFERENCES `api_keys`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `tasks_key_id` ON `tasks` (`key_id`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_next_poll` ON `tasks` (`next_poll_at`);--> statement-breakpoint
CREATE INDEX `tasks_created` ON `tasks` (`created_at`);--> statement-breakpoint
CREATE TABLE `ledger_entries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`key_id` text NOT NULL,
	`task_id` text,
	`kind` text NOT NULL,
	`amount_micros` integer NOT NULL,
	`balance_delta_micros` integer NOT NULL,
	`note` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`key_id`) REFERENCES `api_keys`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `ledger_key_created` ON `ledger_entries` (`key_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `ledger_task` ON `ledger_entries` (`task_id`);