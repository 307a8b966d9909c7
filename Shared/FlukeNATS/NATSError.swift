import CNats

/// An error from the NATS layer: the libnats status (and JetStream error code, when the server
/// gave one) plus the library's text. Mapped to HTTP only at the edge.
public struct NATSError: Error, CustomStringConvertible, Sendable {
    /// The `natsStatus` value, e.g. `NATS_TIMEOUT`.
    public var status: UInt32
    /// The JetStream API error code (`jsErrCode`), 0 when none.
    public var jetStreamCode: Int
    public var message: String

    public init(status: UInt32, jetStreamCode: Int = 0, message: String) {
        self.status = status
        self.jetStreamCode = jetStreamCode
        self.message = message
    }

    public var description: String {
        jetStreamCode != 0 ? "nats [\(status)/js \(jetStreamCode)]: \(message)" : "nats [\(status)]: \(message)"
    }

    /// The operation did not complete in time (a fetch with no messages, a request with no reply).
    public var isTimeout: Bool { status == NATS_TIMEOUT.rawValue }
    /// A request found nobody subscribed to answer it.
    public var isNoResponders: Bool { status == NATS_NO_RESPONDERS.rawValue }
    /// JetStream could not place the copies asked for: replicas above 1 on a single server, or
    /// more than the cluster has servers for.
    public var isReplicaPlacement: Bool {
        [JSStreamReplicasNotSupportedErr, JSInsufficientResourcesErr, JSClusterNoPeersErr]
            .contains { Int($0.rawValue) == jetStreamCode }
    }
    /// Replicas above 1 asked of a server that is not in a cluster: retrying cannot help.
    public var isReplicasOnSingleServer: Bool { jetStreamCode == Int(JSStreamReplicasNotSupportedErr.rawValue) }
    /// The connection is closed or currently reconnecting.
    public var isDisconnected: Bool {
        status == NATS_CONNECTION_CLOSED.rawValue || status == NATS_CONNECTION_DISCONNECTED.rawValue
            || status == NATS_NO_SERVER.rawValue || status == NATS_STALE_CONNECTION.rawValue
    }
}

/// The one place libnats return codes become Swift errors.
@inline(__always)
func natsCheck(_ status: natsStatus, _ what: @autoclosure () -> String, jsCode: jsErrCode = jsErrCode(0)) throws {
    guard status != NATS_OK else { return }
    var last = natsStatus(0)
    let detail = nats_GetLastError(&last).map { String(cString: $0) } ?? String(cString: natsStatus_GetText(status))
    throw NATSError(status: status.rawValue, jetStreamCode: Int(jsCode.rawValue),
                    message: "\(what()): \(detail)")
}
