/// Entity-tag comparison for conditional requests (RFC 9110 §13.1.2).
public enum ETag {
    /// Whether an `If-None-Match` value (a list of tags, or `*`) names `etag`; weak comparison,
    /// as §13.1.2 requires for `If-None-Match`. Byte-wise: it runs on every cached read.
    public static func matches(_ ifNoneMatch: String, _ etag: String) -> Bool {
        let target = opaque(Substring(etag))
        for candidate in ifNoneMatch.split(separator: ",") {
            let tag = candidate.trimmingBlanks()
            if tag == "*" || opaque(tag) == target { return true }
        }
        return false
    }

    private static func opaque(_ tag: Substring) -> Substring {
        tag.hasPrefix("W/") ? tag.dropFirst(2) : tag
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    func trimmingBlanks() -> Substring {
        var s = self
        while let f = s.utf8.first, f == 0x20 || f == 0x09 { s = s.dropFirst() }
        while let l = s.utf8.last, l == 0x20 || l == 0x09 { s = s.dropLast() }
        return s
    }
}
