-- Indexes for the retention job (core/processing/retention.ts): it deletes a consumer's inbox rows
-- older than INBOX_RETENTION and outbox rows published longer ago than OUTBOX_RETENTION, in
-- bounded batches; without these each batch would scan the whole table.
CREATE INDEX processed_messages_retention ON processed_messages (consumer, processed_at);
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
