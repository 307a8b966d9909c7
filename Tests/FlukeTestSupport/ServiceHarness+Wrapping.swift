import FlukeNATS

/// A service test target's own harness: a ``ServiceHarness`` plus what only that target needs,
/// reading and writing the shared harness's members as its own (`h.database`, `h.common[...]`).
@dynamicMemberLookup
public protocol ServiceHarnessWrapping {
    var fleet: ServiceHarness { get set }
}

extension ServiceHarnessWrapping {
    public subscript<T>(dynamicMember keyPath: KeyPath<ServiceHarness, T>) -> T {
        fleet[keyPath: keyPath]
    }

    public subscript<T>(dynamicMember keyPath: WritableKeyPath<ServiceHarness, T>) -> T {
        get { fleet[keyPath: keyPath] }
        set { fleet[keyPath: keyPath] = newValue }
    }

    /// A connection of the test's own to the harness's nats-server, as the admin user.
    public func natsClient() async throws -> NATSClient { try await fleet.natsClient() }
}
