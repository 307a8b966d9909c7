/// A Docker image reference, `[registry[:port]/]path[:tag][@digest]`, checked against the
/// grammar of distribution's `reference` package. The one check of image references: the API,
/// the swarm and the kubernetes executors all use it.
public struct ImageReference: Sendable, Equatable {
    /// Registry and path: what `POST /images/create` takes as `fromImage`.
    public var name: String
    public var tag: String?
    public var digest: String?

    /// What `/images/create` takes as `tag`: the digest if any, else the tag, else `latest`.
    public var pullTag: String { digest ?? tag ?? "latest" }

    public init?(_ reference: String) {
        guard !reference.isEmpty, reference.count <= 255 else { return nil }
        var rest = Substring(reference)
        if let at = rest.firstIndex(of: "@") {
            let digest = rest[rest.index(after: at)...]
            guard Self.validDigest(digest) else { return nil }
            self.digest = String(digest)
            rest = rest[..<at]
        }
        // A colon after the last slash starts the tag; one before it is a registry's port.
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            let tag = rest[rest.index(after: colon)...]
            guard Self.validTag(tag) else { return nil }
            self.tag = String(tag)
            rest = rest[..<colon]
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard !components.isEmpty else { return nil }
        if components.count > 1, let first = components.first,
           first.contains(".") || first.contains(":") || first == "localhost" {
            guard Self.validRegistry(first) else { return nil }
            components.removeFirst()
        }
        guard components.allSatisfy(Self.validPathComponent) else { return nil }
        name = String(rest)
    }

    /// `[a-z0-9]+` groups joined by `.`, `_`, `__` or runs of `-`.
    private static func validPathComponent(_ component: Substring) -> Bool {
        let bytes = Array(component.utf8)
        guard let first = bytes.first, let last = bytes.last, isLowerAlnum(first), isLowerAlnum(last) else {
            return false
        }
        var i = 0
        while i < bytes.count {
            if isLowerAlnum(bytes[i]) { i += 1; continue }
            var j = i
            while j < bytes.count, !isLowerAlnum(bytes[j]) { j += 1 }
            let separator = String(decoding: bytes[i..<j], as: UTF8.self)
            guard separator == "." || separator == "_" || separator == "__" || separator.allSatisfy({ $0 == "-" }) else {
                return false
            }
            i = j
        }
        return true
    }

    private static func validRegistry(_ registry: Substring) -> Bool {
        let parts = registry.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let host = parts.first, !host.isEmpty,
              host.utf8.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }) else {
            return false
        }
        return parts.count == 1 || (!parts[1].isEmpty && parts[1].utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 })
    }

    /// `[\w][\w.-]{0,127}`.
    private static func validTag(_ tag: Substring) -> Bool {
        let bytes = Array(tag.utf8)
        guard let first = bytes.first, bytes.count <= 128, isAlnum(first) || first == UInt8(ascii: "_") else { return false }
        return bytes.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// `algorithm:hex`, e.g. `sha256:` and 64 hex digits.
    private static func validDigest(_ digest: Substring) -> Bool {
        let parts = digest.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].count >= 32 else { return false }
        return parts[0].utf8.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: ".")
            || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
            && parts[1].utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    private static func isLowerAlnum(_ byte: UInt8) -> Bool { (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7a) }
    private static func isAlnum(_ byte: UInt8) -> Bool { isLowerAlnum(byte) || (byte >= 0x41 && byte <= 0x5a) }
}
