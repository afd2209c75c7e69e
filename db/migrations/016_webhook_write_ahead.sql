-- The webhook no longer produces to Kafka inside its request: it writes the accepted payment and
-- its PaymentReceived record (to the outbox) in one transaction, answers, and the outbox relay
-- publishes. So an accepted payment has no partition or offset when its row is written, and the
-- time on the row is when it was accepted, not when the broker acknowledged it. The view over the
-- table is recreated because it selects w.*.
DROP VIEW unroutable_payments;

ALTER TABLE webhook_payments
  DROP COLUMN kafka_partition,
  DROP COLUMN kafka_offset;
ALTER TABLE webhook_payments RENAME COLUMN produced_at TO accepted_at;

CREATE VIEW unroutable_payments AS
  SELECT w.*
  FROM webhook_payments w
  LEFT JOIN clients c ON c.client_id = w.client_id
  WHERE c.client_id IS NULL;
