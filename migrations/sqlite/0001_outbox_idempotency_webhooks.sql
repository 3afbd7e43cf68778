CREATE TABLE `callback_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`task_id` text NOT NULL,
	`key_id` text NOT NULL,
	`url` text NOT NULL,
	`event` text NOT NULL,
	`payload` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer,
	`last_status_code` integer,
	`last_error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`delivered_at` integer
);
--> statement-breakpoint
CREATE INDEX `callbacks_next` ON `callback_deliveries` (`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `callbacks_task` ON `callback_deliveries` (`task_id`);--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`key_id` text NOT NULL,
	`idem_key` text NOT NULL,
	`request_hash` text NOT NULL,
	`task_id` text,
	`status_code` integer,
	`response` text,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`key_id`, `idem_key`)
);
--> statement-breakpoint
CREATE INDEX `idempotency_created` ON `idempotency_keys` (`created_at`);--> statement-breakpoint
DROP INDEX `attempts_status`;--> statement-breakpoint
ALTER TABLE `attempts` ADD `webhook_token` text;--> statement-breakpoint
CREATE UNIQUE INDEX `attempts_webhook_token` ON `attempts` (`webhook_token`);