-- The spend rollup (spend_daily) is kept by triggers on tasks, as on SQLite (migrations/sqlite/0009):
-- it changes in the same statement, so the same transaction, as every task row. Custom SQL: drizzle-kit
-- does not model functions or triggers. tasks is empty when this runs (0000 created it), so unlike the
-- SQLite migration there is nothing to sum in.

-- A task's rollup day, as SQLite's strftime('%Y-%m-%d', created_at / 1000, 'unixepoch'): the
-- milliseconds truncated toward zero to seconds, then the UTC calendar day of those seconds. NULL
-- outside years 0001..9999 (SQLite's is NULL above 9999 too; it also names years 0 and below, which
-- PostgreSQL calls BC), so such a task is refused by spend_daily.day NOT NULL on both engines.
CREATE FUNCTION spend_day(created_at bigint) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN created_at / 1000 BETWEEN -62135596800 AND 253402300799
    THEN to_char(to_timestamp(created_at / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD') END
$$;
--> statement-breakpoint
-- Add deltas to one rollup row, creating it when missing.
CREATE FUNCTION spend_daily_add(d text, k text, m text, p text, n_tasks bigint, n_completed bigint, n_failed bigint, n_cancelled bigint, units bigint, reserved bigint, charged bigint, refunded bigint, upstream bigint) RETURNS void LANGUAGE sql AS $$
  INSERT INTO spend_daily AS s (day, key_id, model, provider, tasks, completed, failed, cancelled, billable_units, reserved_micros, charged_micros, refunded_micros, upstream_cost_micros)
  VALUES (d, k, m, p, n_tasks, n_completed, n_failed, n_cancelled, units, reserved, charged, refunded, upstream)
  ON CONFLICT (day, key_id, model, provider) DO UPDATE SET tasks = s.tasks + excluded.tasks, completed = s.completed + excluded.completed, failed = s.failed + excluded.failed, cancelled = s.cancelled + excluded.cancelled, billable_units = s.billable_units + excluded.billable_units, reserved_micros = s.reserved_micros + excluded.reserved_micros, charged_micros = s.charged_micros + excluded.charged_micros, refunded_micros = s.refunded_micros + excluded.refunded_micros, upstream_cost_micros = s.upstream_cost_micros + excluded.upstream_cost_micros
$$;
--> statement-breakpoint
-- One task row's contribution, times `factor` (+1 adds it, -1 takes it back).
CREATE FUNCTION spend_daily_task_add(t tasks, factor bigint) RETURNS void LANGUAGE sql AS $$
  SELECT spend_daily_add(spend_day(t.created_at), t.key_id, t.model, coalesce(t.provider, ''), factor,
    factor * (t.status = 'completed')::int, factor * (t.status = 'failed')::int, factor * (t.status = 'cancelled')::int,
    factor * t.billable_units, factor * t.reserved_micros, factor * t.charged_micros, factor * t.refunded_micros, factor * t.upstream_cost_micros)
$$;
--> statement-breakpoint
-- Insert adds the row, delete takes it back, update takes the old row back and adds the new one.
-- An update that stays in the same rollup row (the usual case: a status or money change) writes the
-- difference once instead of two upserts of that row; the sums are the same.
CREATE FUNCTION spend_daily_task_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.key_id = NEW.key_id AND OLD.model = NEW.model
     AND coalesce(OLD.provider, '') = coalesce(NEW.provider, '') AND spend_day(OLD.created_at) = spend_day(NEW.created_at) THEN
    PERFORM spend_daily_add(spend_day(NEW.created_at), NEW.key_id, NEW.model, coalesce(NEW.provider, ''), 0,
      (NEW.status = 'completed')::int - (OLD.status = 'completed')::int,
      (NEW.status = 'failed')::int - (OLD.status = 'failed')::int,
      (NEW.status = 'cancelled')::int - (OLD.status = 'cancelled')::int,
      NEW.billable_units - OLD.billable_units, NEW.reserved_micros - OLD.reserved_micros,
      NEW.charged_micros - OLD.charged_micros, NEW.refunded_micros - OLD.refunded_micros,
      NEW.upstream_cost_micros - OLD.upstream_cost_micros);
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM spend_daily_task_add(OLD, -1); END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN PERFORM spend_daily_task_add(NEW, 1); END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER spend_daily_task_insert AFTER INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION spend_daily_task_change();
--> statement-breakpoint
-- Only when a counted column really changes (a poll's progress or schedule never touches the rollup).
CREATE TRIGGER spend_daily_task_update AFTER UPDATE OF key_id, model, provider, created_at, status, billable_units, reserved_micros, charged_micros, refunded_micros, upstream_cost_micros ON tasks
FOR EACH ROW WHEN (OLD.key_id IS DISTINCT FROM NEW.key_id OR OLD.model IS DISTINCT FROM NEW.model OR OLD.provider IS DISTINCT FROM NEW.provider OR OLD.created_at IS DISTINCT FROM NEW.created_at
  OR (OLD.status = 'completed') IS DISTINCT FROM (NEW.status = 'completed') OR (OLD.status = 'failed') IS DISTINCT FROM (NEW.status = 'failed') OR (OLD.status = 'cancelled') IS DISTINCT FROM (NEW.status = 'cancelled')
  OR OLD.billable_units IS DISTINCT FROM NEW.billable_units OR OLD.reserved_micros IS DISTINCT FROM NEW.reserved_micros OR OLD.charged_micros IS DISTINCT FROM NEW.charged_micros
  OR OLD.refunded_micros IS DISTINCT FROM NEW.refunded_micros OR OLD.upstream_cost_micros IS DISTINCT FROM NEW.upstream_cost_micros)
EXECUTE FUNCTION spend_daily_task_change();
--> statement-breakpoint
CREATE TRIGGER spend_daily_task_delete AFTER DELETE ON tasks FOR EACH ROW EXECUTE FUNCTION spend_daily_task_change();
