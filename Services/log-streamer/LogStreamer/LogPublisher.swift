import FlukeCrypto
import FlukeModels
import FlukeRuntime
import Foundation

/// Sends HTTP batches the way every other entry comes: onto `FLUKE_LOGS`, through the outbox.
/// The whole batch is written to `logs.outbox` in one transaction, so it is all there or none of
/// it is, and once the request is answered the entries survive any crash; the relay publishes
/// them, and the intake stores them like deploy-tracker's. One path to storage, in one order.
struct LogPublisher: Sendable {
    let db: TenantDatabase

    /// Records the batch; returns how many entries were new to the outbox (a repeated request's
    /// entries are there already).
    @discardableResult
    func publish(_ entries: [CheckedEntry], principal: Principal) async throws -> Int {
        let messages = entries.map { checked in
            Outbox.Message(subject: checked.subject, messageID: Self.messageID(tenant: checked.tenantID, entry: checked.entry.id),
                           payload: checked.json)
        }
        return try await db.inTenant(of: principal) { tx in
            try await db.outbox.enqueue(batch: messages, on: tx)
        }
    }

    /// The outbox row's and JetStream's message id: a UUID made from the tenant and the entry's
    /// id (entry ids are any text, and two tenants may use the same one), so a client that sends
    /// an entry again gets it deduplicated by the outbox and the stream's duplicate window.
    static func messageID(tenant: UUID, entry id: String) -> UUID {
        nameBasedUUID(Array("fluke.logs/\(tenant.lowercased)/\(id)".utf8))
    }

    /// A UUID made from `name`: the first 16 bytes of its SHA-256, laid out as RFC 4122 asks.
    static func nameBasedUUID(_ name: [UInt8]) -> UUID {
        var bytes = Crypto.sha256(name).prefix(16).map { $0 }
        bytes[6] = (bytes[6] & 0x0F) | 0x50   // version 5 layout (name-based, here with SHA-256)
        bytes[8] = (bytes[8] & 0x3F) | 0x80   // RFC 4122 variant
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
