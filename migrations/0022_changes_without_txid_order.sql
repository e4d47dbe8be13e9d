-- The change feed: drop an index nothing reads (issue 13: what a write costs inside PostgreSQL).
--
-- changes_order (txid, id) served the foundation's first design, where readers ordered the feed by
-- (txid, id) and saw only transactions below their snapshot's xmin. Since 0005 the sequencer gives
-- positions from commit tickets, and the only reads by txid are of changes still without a
-- position, which changes_unsequenced (txid, id) WHERE position IS NULL serves. Every write that
-- publishes a change still inserted into changes_order, and so did the sequencer's update of each
-- row's position (position is indexed, so that update is never HOT): two index entries per change,
-- never read.
DROP INDEX changes_order;
