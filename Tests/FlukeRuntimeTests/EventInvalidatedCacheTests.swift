import FlukeModels
import FlukeNATS
import FlukeRuntime
import FlukeTestSupport
import Foundation
import Testing

@Suite("EventInvalidatedCache: TTL, byte bound, invalidation over NATS")
struct EventInvalidatedCacheTests {
    struct Key: Hashable, Sendable {
        var project: UUID
        var name: String
    }
    typealias Cache = EventInvalidatedCache<Key, String>

    func connect() async throws -> NATSClient {
        try await NATSClient.connect(.admin(url: TestEnvironment.natsURL, name: "cache-test"), logger: TestEnvironment.logger)
    }

    func makeCache(_ nats: NATSClient, subjects: [String] = [], announceSubject: String? = nil,
                   ttl: Duration = .seconds(30), maxBytes: Int = 1 << 20) -> Cache {
        Cache(nats: nats, subjects: subjects, announceSubject: announceSubject, ttl: ttl, maxBytes: maxBytes,
              scope: { key, _ in key.project }, cost: { value in value.utf8.count }, logger: TestEnvironment.logger)
    }

    /// Polls `condition` for up to five seconds.
    func eventually(_ condition: () -> Bool) async throws -> Bool {
        for _ in 0..<500 {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    @Test("an entry is served until its TTL, then gone")
    func ttl() async throws {
        let nats = try await connect()
        let cache = makeCache(nats, ttl: .milliseconds(200))
        let key = Key(project: UUID(), name: "a")
        cache.put("value", for: key, readAt: cache.epoch())
        #expect(cache.get(key) == "value")
        try await Task.sleep(for: .milliseconds(300))
        #expect(cache.get(key) == nil)
        #expect(cache.bytes == 0)
        await nats.shutdown()
    }

    @Test("bounded in bytes: the oldest stored go first, a value over the whole budget is not kept")
    func byteBound() async throws {
        let nats = try await connect()
        let entryBytes = 1_000 + Cache.entryOverhead
        let cache = makeCache(nats, maxBytes: 10 * entryBytes)
        let project = UUID()
        let keys = (0..<30).map { Key(project: project, name: "k\($0)") }
        for key in keys {
            cache.put(String(repeating: "x", count: 1_000), for: key, readAt: cache.epoch())
            #expect(cache.bytes <= 10 * entryBytes)
        }
        #expect(cache.get(keys[29]) != nil)
        #expect(cache.get(keys[0]) == nil)
        let huge = Key(project: UUID(), name: "huge")
        cache.put(String(repeating: "x", count: 11 * entryBytes), for: huge, readAt: cache.epoch())
        #expect(cache.get(huge) == nil && cache.bytes <= 10 * entryBytes)
        // Invalidating the scope gives every byte back.
        cache.invalidate(project)
        #expect(cache.bytes == 0)
        await nats.shutdown()
    }

    @Test("an invalidation beats a fill that began before it; other scopes and later fills are unaffected")
    func staleFill() async throws {
        let nats = try await connect()
        let cache = makeCache(nats)
        let changed = Key(project: UUID(), name: "a")
        let other = Key(project: UUID(), name: "b")
        let before = cache.epoch()
        cache.invalidate(changed.project)
        cache.put("old", for: changed, readAt: before)
        #expect(cache.get(changed) == nil)
        cache.put("other", for: other, readAt: before)
        #expect(cache.get(other) == "other")
        cache.put("new", for: changed, readAt: cache.epoch())
        #expect(cache.get(changed) == "new")

        // Racing fills and invalidations: once the last invalidation is done, no fill that began
        // before it may be found.
        let racing = Key(project: UUID(), name: "race")
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask {
                    if i % 2 == 0 {
                        let epoch = cache.epoch()
                        cache.put("fill \(i)", for: racing, readAt: epoch)
                    } else {
                        cache.invalidate(racing.project)
                    }
                }
            }
        }
        let last = cache.epoch()
        cache.invalidate(racing.project)
        cache.put("stale", for: racing, readAt: last)
        #expect(cache.get(racing) == nil)
        await nats.shutdown()
    }

    @Test("an event on a subscribed subject invalidates its project, also a fill still in flight; announce reaches other replicas")
    func events() async throws {
        let nats = try await connect()
        let publisher = try await connect()
        let prefix = "test.cache." + UUID().uuidString.prefix(8)
        let replicaA = makeCache(nats, subjects: [prefix + ".events.>"], announceSubject: prefix + ".applied")
        let replicaB = makeCache(nats, subjects: [prefix + ".events.>"], announceSubject: prefix + ".applied")
        let runA = Task { try await replicaA.run() }
        let runB = Task { try await replicaB.run() }
        // The subscriptions are up once a probe event gets through.
        let probe = Key(project: UUID(), name: "probe")
        replicaA.put("p", for: probe, readAt: replicaA.epoch())
        #expect(try await eventually {
            _ = publisher.publishNow(prefix + ".events.probe", payload: Data(#"{"projectid":"\#(probe.project.lowercased)"}"#.utf8))
            return replicaA.get(probe) == nil
        })

        let key = Key(project: UUID(), name: "a")
        let inFlight = replicaA.epoch()
        replicaA.put("cached", for: key, readAt: inFlight)
        #expect(replicaA.get(key) == "cached")
        try await publisher.publish(prefix + ".events.project.updated",
                                    payload: Data(#"{"projectid":"\#(key.project.lowercased)","type":"x"}"#.utf8))
        #expect(try await eventually { replicaA.get(key) == nil })
        // A read that began before the event cannot put the old value back.
        replicaA.put("stale", for: key, readAt: inFlight)
        #expect(replicaA.get(key) == nil)
        // Messages naming no project change nothing.
        replicaA.put("kept", for: key, readAt: replicaA.epoch())
        try await publisher.publish(prefix + ".events.other", payload: Data(#"{"nothing":1}"#.utf8))
        let marker = Key(project: UUID(), name: "marker")
        replicaA.put("m", for: marker, readAt: replicaA.epoch())
        try await publisher.publish(prefix + ".events.marker", payload: Data(#"{"projectid":"\#(marker.project.lowercased)"}"#.utf8))
        #expect(try await eventually { replicaA.get(marker) == nil })
        #expect(replicaA.get(key) == "kept")

        // A change announced by one replica is dropped by the other.
        replicaB.put("b", for: key, readAt: replicaB.epoch())
        replicaA.announce(key.project)
        #expect(replicaA.get(key) == nil)
        #expect(try await eventually { replicaB.get(key) == nil })

        runA.cancel()
        runB.cancel()
        _ = await (runA.result, runB.result)
        await publisher.shutdown()
        await nats.shutdown()
    }
}
