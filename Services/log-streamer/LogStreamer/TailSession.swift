import FlukeModels
import FlukeNATS
import FlukeRuntime
import Foundation
import Logging
import NIOCore
import NIOWebSocket
import ServiceLifecycle
import Synchronization

/// Runs live tails: registration (and the per-tenant limit), the replay of a resume, then live
/// entries, client messages, pings and the close handshake.
///
/// Resume without gap or duplicate: at registration the broadcaster's split H is fixed; entries
/// up to H come from the ring or from storage, everything after H from the live queue, so the two
/// parts are disjoint by sequence and together whole. Storage is read only once the durable
/// intake's acknowledgement floor has reached H (it acknowledges after storing).
struct TailSessions: Sendable {
    let broadcaster: Broadcaster
    let store: LogStore
    let nats: NATSClient
    let settings: TailSettings
    let logger: Logger
    let writers = LoopWriters()

    func run(_ request: TailRequest, channel: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>) async {
        let tail = TailConnection(principal: request.principal, filter: request.filter, capacity: settings.buffer,
                                  channel: channel.channel, writer: writers.writer(for: channel.channel.eventLoop))
        var resumeAfter: Int64?
        var unknownSinceID: String?
        switch request.resume {
        case .afterID(let id)?:
            if let seq = broadcaster.sequence(of: id, tenant: request.principal.tenantID) {
                resumeAfter = seq
            } else if let seq = try? await store.sequence(of: id, principal: request.principal) {
                resumeAfter = seq
            } else {
                unknownSinceID = id
            }
        case .since?: resumeAfter = 0
        case nil: break
        }
        // Only a resume after an entry can come from the ring; one by time reads storage.
        var ringAfter: Int64?
        if case .afterID? = request.resume { ringAfter = resumeAfter }
        let registration = broadcaster.register(tail, resumeAfter: ringAfter, filter: request.filter)
        try? await channel.executeThenClose { inbound, outbound in
            guard case .registered(let high, let ringReplay) = registration else {
                let reason = "LOGS_MAX_TAILS_PER_TENANT (\(settings.maxTailsPerTenant)) tails are open for this tenant"
                try await outbound.write(.text(TailMessages.encode([
                    "type": .string("error"), "code": .string("too_many_tails"), "message": .string(reason)])))
                try await outbound.write(.close(.policyViolation, reason: reason))
                return
            }
            defer { broadcaster.remove(tail) }
            let plan = Replay(request: request, after: resumeAfter, unknownSinceID: unknownSinceID, high: high, ring: ringReplay)
            await withGracefulShutdownHandler {
                await serve(tail, plan: plan, channel: channel.channel, inbound: inbound)
            } onGracefulShutdown: {
                tail.close(.goingAway, reason: "log-streamer is shutting down; reconnect with since_id")
            }
        }
    }

    struct Replay {
        let request: TailRequest
        let after: Int64?
        let unknownSinceID: String?
        let high: Int64
        let ring: [TailEntry]?
    }

    private enum End { case writer, reader, dead }

    /// Frames go straight to `channel` (the replay's, awaited chunk by chunk; then the loop
    /// writer's), not through the async channel's writer.
    private func serve(_ tail: TailConnection, plan: Replay, channel: any Channel,
                       inbound: NIOAsyncChannelInboundStream<WebSocketFrame>) async {
        let reader = TailReader(tail: tail, broadcaster: broadcaster, maxMessageBytes: settings.maxMessageBytes)
        try? await channel.pipeline.addHandler(TailWritability(tail: tail))
        // Before the replay ends, so that every live entry goes out by the fast path.
        try? await channel.eventLoop.submit { try tail.attachEncoder() }.get()
        await withTaskGroup(of: End.self) { group in
            group.addTask {
                do {
                    try await replay(plan, tail: tail, channel: channel)
                    await tail.finished()
                } catch {
                    logger.debug("live tail write ended", metadata: ["error": "\(error)"])
                }
                return .writer
            }
            group.addTask {
                await reader.run(inbound)
                return .reader
            }
            group.addTask {
                // A client that answers nothing for two intervals is gone (or not reading).
                let interval = settings.pingInterval
                while (try? await Task.sleep(for: interval)) != nil {
                    if tail.silence > interval * 2 {
                        channel.close(promise: nil)
                        return .dead
                    }
                    tail.enqueue(.frame(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer())))
                }
                return .dead
            }
            if let expiry = plan.request.principal.expiresAt {
                group.addTask {
                    let seconds = max(0, expiry.timeIntervalSinceNow)
                    if (try? await Task.sleep(for: .seconds(seconds))) != nil { tail.close(.policyViolation, reason: "token expired") }
                    return .dead
                }
            }
            var end = await group.next()
            // The server closed: give the client a moment to answer the close frame.
            if end == .writer {
                group.addTask {
                    try? await Task.sleep(for: .seconds(2))
                    return .dead
                }
                while end == .writer { end = await group.next() }
            }
            group.cancelAll()
        }
    }

    /// Writes the stored part of a resume, then lets the live queue through.
    private func replay(_ plan: Replay, tail: TailConnection, channel: any Channel) async throws {
        /// Writes `frames` and waits until they are written: the replay's backpressure.
        func write(_ frames: [WebSocketFrame]) async throws {
            guard let last = frames.last else { return }
            for frame in frames.dropLast() { channel.write(frame, promise: nil) }
            try await channel.writeAndFlush(last).get()
        }
        func error(_ code: String, _ message: String, sinceID: String? = nil) async throws {
            var object: [String: JSONValue] = ["type": .string("error"), "code": .string(code), "message": .string(message)]
            if let sinceID { object["since_id"] = .string(sinceID) }
            try await write([.text(TailMessages.encode(object))])
        }
        guard let resume = plan.request.resume else {
            tail.finishReplay(lastReplayedID: nil)
            return
        }
        var lastID: String?
        if case .afterID(let id) = resume { lastID = id }
        if let unknown = plan.unknownSinceID {
            try await error("unknown_since_id", "no entry \(unknown) is kept for this tenant; live entries follow")
        } else if let ring = plan.ring {
            for chunk in stride(from: 0, to: ring.count, by: 512) {
                let part = ring[chunk..<min(chunk + 512, ring.count)]
                try await write(part.map { .text($0.frame) })
            }
            tail.addSent(ring.count)
            lastID = ring.last?.id ?? lastID
        } else if plan.high > (plan.after ?? 0) {
            if try await storedThrough(plan.high) {
                var after = plan.after ?? 0, total = 0
                let since: Date? = if case .since(let date) = resume { date } else { nil }
                while true {
                    let rows = try await store.replay(principal: plan.request.principal, filter: plan.request.filter,
                                                      after: after, through: plan.high, since: since, limit: 1000)
                    guard let last = rows.last else { break }
                    try await write(rows.map { .text(ByteBuffer(string: $0.json)) })
                    tail.addSent(rows.count)
                    total += rows.count
                    after = last.seq
                    lastID = last.id
                    if rows.count < 1000 { break }
                    if total >= settings.resumeMaxEntries {
                        try await error("resume_too_far", "more than LOGS_RESUME_MAX_ENTRIES (\(settings.resumeMaxEntries)) entries to replay; query GET /api/v1/logs for the rest; live entries follow",
                                        sinceID: lastID)
                        break
                    }
                }
            } else {
                try await error("resume_unavailable", "stored entries are not up to date yet; live entries follow", sinceID: lastID)
            }
        }
        var live: [String: JSONValue] = ["type": .string("live")]
        if let lastID { live["since_id"] = .string(lastID) }
        try await write([.text(TailMessages.encode(live))])
        tail.finishReplay(lastReplayedID: lastID)
    }

    /// Waits (up to `LOGS_RESUME_WAIT`) until the intake has stored every message up to `sequence`.
    private func storedThrough(_ sequence: Int64) async throws -> Bool {
        let deadline = ContinuousClock.now + settings.resumeWait
        while true {
            if let info = try? await nats.consumerInfo(stream: UnifiedLogEntry.streamName, durable: LogIntake.durable),
               Int64(info.ackFloorStreamSequence) >= sequence {
                return true
            }
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// What a live tail's settings are.
struct TailSettings: Sendable {
    var buffer: Int
    var ring: Int
    var maxTailsPerTenant: Int
    var resumeMaxEntries: Int
    var resumeWait: Duration
    var pingInterval: Duration
    var maxMessageBytes = 64 * 1024
}
