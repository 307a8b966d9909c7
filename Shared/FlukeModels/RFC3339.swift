import Foundation

/// RFC 3339 timestamps (UTC, millisecond precision on output; any precision and offset on input).
public enum RFC3339 {
    /// UTC with `fractionDigits` of fractional seconds (3 on the wire; 6 for Postgres; 0: none).
    public static func format(_ date: Date, fractionDigits: Int = 3) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(21 + fractionDigits)
        append(date, fractionDigits: fractionDigits, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// ``format(_:fractionDigits:)`` written as UTF-8 at the end of `out` (for writers that build
    /// whole documents as bytes).
    public static func append(_ date: Date, fractionDigits: Int = 3, to out: inout [UInt8]) {
        let scale = Int64((0..<fractionDigits).reduce(1) { r, _ in r * 10 })
        var seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        var fraction = Int64(((date.timeIntervalSince1970 - Double(seconds)) * Double(scale)).rounded())
        if fraction >= scale {
            seconds += 1
            fraction -= scale
        }
        var t = time_t(seconds)
        var tm = tm()
        gmtime_r(&t, &tm)
        func digits(_ value: some BinaryInteger, _ width: Int) {
            var v = Int64(value)
            let limit = (0..<width).reduce(Int64(1)) { r, _ in r * 10 }
            guard v >= 0, v < limit else {
                // A year beyond four digits (or before year 0), written as before this writer.
                let text = String(value)
                return out.append(contentsOf: Array((String(repeating: "0", count: max(0, width - text.count)) + text).utf8))
            }
            var i = out.count + width - 1
            out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width))
            while v > 0 {
                out[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                i -= 1
            }
        }
        digits(tm.tm_year + 1900, 4)
        out.append(UInt8(ascii: "-"))
        digits(tm.tm_mon + 1, 2)
        out.append(UInt8(ascii: "-"))
        digits(tm.tm_mday, 2)
        out.append(UInt8(ascii: "T"))
        digits(tm.tm_hour, 2)
        out.append(UInt8(ascii: ":"))
        digits(tm.tm_min, 2)
        out.append(UInt8(ascii: ":"))
        digits(tm.tm_sec, 2)
        if fractionDigits > 0 {
            out.append(UInt8(ascii: "."))
            digits(fraction, fractionDigits)
        }
        out.append(UInt8(ascii: "Z"))
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)`; requires the `T` and an offset, as RFC 3339 does.
    public static func parse(_ text: String) -> Date? {
        Array(text.utf8).withUnsafeBytes { parse(bytes: $0) }
    }

    /// Parses RFC 3339 from raw bytes (a slice of a message buffer).
    public static func parse(bytes u: UnsafeRawBufferPointer) -> Date? {
        guard u.count >= 20, u[10] == UInt8(ascii: "T") || u[10] == UInt8(ascii: "t") else { return nil }
        guard let last = u.last, last == UInt8(ascii: "Z") || last == UInt8(ascii: "z")
                || u[u.count - 3] == UInt8(ascii: ":") else { return nil }
        return TimestampParser.parse(u, strict: true)
    }
}

/// The one timestamp parser of the fleet: strict RFC 3339 for the wire, lenient for Postgres'
/// `timestamptz` text (`2026-11-22 01:49:00.123+00`).
public enum TimestampParser {
    public static func parse(_ text: String, strict: Bool) -> Date? {
        Array(text.utf8).withUnsafeBytes { parse($0, strict: strict) }
    }

    static func parse(_ u: UnsafeRawBufferPointer, strict: Bool) -> Date? {
        var i = 0
        func number(_ n: Int) -> Int? {
            guard i + n <= u.count else { return nil }
            var v = 0
            for k in 0..<n {
                let c = u[i + k]
                guard c >= 0x30, c <= 0x39 else { return nil }
                v = v * 10 + Int(c - 0x30)
            }
            i += n
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < u.count, u[i] == c || (c == 0x54 && (u[i] == 0x74 || (!strict && u[i] == 0x20))) else {
                return false
            }
            i += 1
            return true
        }
        guard let year = number(4), expect(0x2D), let month = number(2), expect(0x2D), let day = number(2),
              expect(0x54), let hour = number(2), expect(0x3A), let minute = number(2), expect(0x3A),
              let second = number(2) else { return nil }
        var fraction = 0.0
        if i < u.count, u[i] == 0x2E {
            i += 1
            var scale = 0.1
            var digits = 0
            while i < u.count, u[i] >= 0x30, u[i] <= 0x39 {
                fraction += Double(u[i] - 0x30) * scale
                scale /= 10
                i += 1
                digits += 1
            }
            guard digits > 0 else { return nil }
        }
        var offset = 0
        guard i < u.count else { return strict ? nil : date(year, month, day, hour, minute, second, 0, fraction) }
        if u[i] == 0x5A || u[i] == 0x7A {
            i += 1
        } else if u[i] == 0x2B || u[i] == 0x2D {
            let sign = u[i] == 0x2D ? -1 : 1
            i += 1
            guard let oh = number(2), oh < 24 else { return nil }
            var om = 0
            if strict || i < u.count {
                guard expect(0x3A), let m = number(2), m < 60 else { return nil }
                om = m
            }
            offset = sign * (oh * 3600 + om * 60)
        } else {
            return nil
        }
        guard i == u.count else { return nil }
        return date(year, month, day, hour, minute, second, offset, fraction)
    }

    /// Days from civil (Howard Hinnant's algorithm): exact for the proleptic Gregorian calendar.
    private static func date(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int,
                             _ offset: Int, _ fraction: Double) -> Date? {
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Date(timeIntervalSince1970: Double(days * 86_400 + hour * 3600 + minute * 60 + second - offset) + fraction)
    }
}
