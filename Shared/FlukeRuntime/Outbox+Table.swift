/// The table every schema's outbox lives in, for the service's first migration (as
/// ``DeadLetters/tableSQL(schema:)`` is for dead letters): the relay reads it by this shape.
extension Outbox {
    /// `CREATE TABLE <schema>.outbox` and the index of unpublished rows the relay scans.
    public static func tableSQL(schema: String) -> String {
        """
        CREATE TABLE \(schema).outbox (
            seq bigserial PRIMARY KEY,
            event_id uuid NOT NULL UNIQUE,
            subject text NOT NULL,
            payload text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            published_at timestamptz
        );
        CREATE INDEX outbox_pending ON \(schema).outbox (seq) WHERE published_at IS NULL;
        """
    }
}
