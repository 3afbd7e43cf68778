ALTER TABLE `tasks` ADD `lease_owner` text;--> statement-breakpoint
ALTER TABLE `callback_deliveries` ADD `lease_owner` text;--> statement-breakpoint
ALTER TABLE `files` ADD `lease_owner` text;--> statement-breakpoint
ALTER TABLE `files` ADD `lease_until` integer;--> statement-breakpoint
ALTER TABLE `mirror_jobs` ADD `lease_owner` text;