-- Webhook deliveries go out in feed order, one at a time per webhook (or a few, when
-- WEBHOOK_PARALLEL_PER_WEBHOOK allows): the worker asks each webhook for its first pending
-- deliveries by position. This index answers that without walking the webhook's delivered
-- history, however long it grows.
CREATE INDEX webhook_deliveries_pending_in_order ON webhook_deliveries (webhook_id, change_position) WHERE status = 'pending';
