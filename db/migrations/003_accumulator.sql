-- The accumulator's additions for the global micro-batch window.

-- Which change of the pipeline-config topic a setting came from, so an operator can tie the value
-- in force to its config_audit row, and so two changes stamped with the same changed_at still
-- have one deterministic winner (the greater change_id) whatever order they are consumed in.
ALTER TABLE pipeline_settings
  ADD COLUMN change_id   text,
  ADD COLUMN changed_by  text;

-- Settlement and operators look up a batch's members by batch id.
CREATE INDEX payment_ledger_conversion_batch
  ON payment_ledger (conversion_batch_id) WHERE conversion_batch_id IS NOT NULL;
