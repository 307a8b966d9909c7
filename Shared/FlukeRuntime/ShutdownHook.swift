import ServiceLifecycle

/// Runs `action` at graceful shutdown: a worker in a service group that closes something the
/// workers listed after it (which stop first) were using.
public struct ShutdownHook: Service {
    let action: @Sendable () async -> Void

    public init(_ action: @escaping @Sendable () async -> Void) { self.action = action }

    public func run() async throws {
        try? await gracefulShutdown()
        await action()
    }
}
