import FlukeModels
import FlukeNATS
import Foundation
import Logging
import Synchronization

/// UnifiedLogEntry JSON for the log-streamer section, rendered byte by byte (5,000,000 of them
/// for the query figure: an encoder per entry would take minutes) in exactly the form
/// log-streamer stores and sends (sorted keys, `source.tenant_id` stamped, milliseconds), so that
/// what it stores from the stream and what the COPY baseline loads are the same rows. Each command
/// checks one rendered entry against FlukeModels' own encoder first.
struct LogEntryRenderer {
    static let apps = (0..<50).map { "app-" + ($0 < 10 ? "0" : "") + String($0) }
    /// debug 70 %, info 20 %, warn 8 %, error 2 %, by a hash of the entry's index.
    static func level(_ i: Int) -> (name: StaticString, rank: Int) {
        switch mix(i, 1) % 100 {
        case 0..<70: ("debug", 0)
        case 70..<90: ("info", 1)
        case 90..<98: ("warn", 2)
        default: ("error", 3)
        }
    }
    static func app(_ i: Int) -> Int { Int(mix(i, 2) % UInt64(apps.count)) }

    static func mix(_ i: Int, _ salt: UInt64) -> UInt64 {
        var x = UInt64(i) &+ salt &* 0x9E37_79B9_7F4A_7C15
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }

    static let messages: [String] = [
        "GET /api/v1/items/{n} 200 12ms", "POST /api/v1/orders 201 48ms", "cache miss for key user:{n}",
        "worker: processed batch {n} in 41ms", "retrying upstream call (attempt 2 of 5) after timeout",
        "connection pool: 12 of 20 in use", "GET /health 200 1ms", "payment {n} declined: insufficient funds",
    ]

    /// `{"@context":…,"timestamp":"…"}` into `out`. `message` must need no JSON escaping.
    static func render(into out: inout [UInt8], tenant: String, project: String, app: String, id: String,
                       millis: Int64, level: StaticString, message: String) {
        out.add(#"{"@context":"https://flukebase.me/schemas/unified-log","@type":"UnifiedLogEntry","flukedeploy_metadata":{"app_name":""#)
        out.add(app)
        out.add(#""},"id":""#)
        out.add(id)
        out.add(#"","level":""#)
        out.add(level)
        out.add(#"","message":""#)
        out.add(message)
        out.add(#"","source":{"component":"app","instance":""#)
        out.add(app)
        out.add(#"-0","project_id":""#)
        out.add(project)
        out.add(#"","service":""#)
        out.add(app)
        out.add(#"","stream":"stdout","tenant_id":""#)
        out.add(tenant)
        out.add(#""},"timestamp":""#)
        appendTimestamp(&out, millis: millis, separator: UInt8(ascii: "T"))
        out.add(#"Z"}"#)
    }

    /// Each message split at its `{n}`.
    static let messageParts: [(String, String?)] = messages.map { m in
        guard let r = m.range(of: "{n}") else { return (m, nil) }
        return (String(m[..<r.lowerBound]), String(m[r.upperBound...]))
    }

    static func message(_ i: Int) -> String {
        let (head, tail) = messageParts[Int(mix(i, 3) % UInt64(messages.count))]
        guard let tail else { return head }
        return head + String(i % 100_000) + tail
    }

    /// Fails unless a rendered entry is what FlukeModels decodes and encodes back unchanged.
    static func check(tenant: String, project: String) {
        var out: [UInt8] = []
        render(into: &out, tenant: tenant, project: project, app: apps[7], id: "check-1", millis: 1_764_700_000_123,
               level: "warn", message: message(3))
        let data = Data(out)
        do {
            let entry = try CloudEvent.decoder().decode(UnifiedLogEntry.self, from: data)
            let again = try CloudEvent.encoder().encode(entry)
            guard again == data else {
                fail("rendered entry differs from FlukeModels' encoding:\n\(String(decoding: data, as: UTF8.self))\n\(String(decoding: again, as: UTF8.self))")
            }
        } catch {
            fail("rendered entry is no UnifiedLogEntry: \(error)\n\(String(decoding: data, as: UTF8.self))")
        }
    }
}

extension [UInt8] {
    mutating func add(_ s: StaticString) { s.withUTF8Buffer { append(contentsOf: $0) } }
    mutating func add(_ s: String) { append(contentsOf: s.utf8) }
    mutating func add(_ v: Int64, width: Int = 0) {
        if v < 0 { append(UInt8(ascii: "-")) }
        var n = v.magnitude
        var digits = 1
        var scale: UInt64 = 10
        while digits < 20, n >= scale { digits += 1; scale = scale &* 10 }
        for _ in digits..<Swift.max(digits, width) { append(48) }
        let end = count + digits
        append(contentsOf: repeatElement(48, count: digits))
        var i = end - 1
        repeat {
            self[i] = UInt8(48 + n % 10)
            n /= 10
            i -= 1
        } while n > 0
    }
}

/// Writes all of `bytes` to standard output (fd 1).
func writeOut(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { raw in
        var done = 0
        while done < raw.count {
            let n = write(1, raw.baseAddress! + done, raw.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                fail("writing to stdout: errno \(errno)")
            }
            done += n
        }
    }
}

/// `YYYY-MM-DD<sep>HH:MM:SS.mmm` (UTC) of `millis` since the epoch.
func appendTimestamp(_ out: inout [UInt8], millis: Int64, separator: UInt8) {
    let days = millis >= 0 ? millis / 86_400_000 : (millis - 86_399_999) / 86_400_000
    var rem = millis - days * 86_400_000
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let day = doy - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    let hour = rem / 3_600_000; rem %= 3_600_000
    let minute = rem / 60_000; rem %= 60_000
    out.add(year, width: 4); out.append(UInt8(ascii: "-"))
    out.add(month, width: 2); out.append(UInt8(ascii: "-"))
    out.add(day, width: 2); out.append(separator)
    out.add(hour, width: 2); out.append(UInt8(ascii: ":"))
    out.add(minute, width: 2); out.append(UInt8(ascii: ":"))
    out.add(rem / 1000, width: 2); out.append(UInt8(ascii: "."))
    out.add(rem % 1000, width: 3)
}

/// One `logs.entries` row in COPY's text format (columns in table order; no deployment, no event type).
func appendCopyRow(_ out: inout [UInt8], tenant: String, millis: Int64, seq: Int64, id: String, project: String,
                   app: String, rank: Int, entry: ArraySlice<UInt8>) {
    out.add(tenant); out.append(9)
    appendTimestamp(&out, millis: millis, separator: UInt8(ascii: " ")); out.add("+00"); out.append(9)
    out.add(seq); out.append(9)
    out.add(id); out.append(9)
    out.add(project); out.append(9)
    out.add(app); out.append(9)
    out.add(#"\N"#); out.append(9)
    out.add(Int64(rank)); out.append(9)
    out.add(#"\N"#); out.append(9)
    out.append(contentsOf: entry)
    out.append(10)
}

func currentMillis() -> Int64 { wallNanoseconds() / 1_000_000 }

/// `logs-rows`: rows `[part * count / parts, (part + 1) * count / parts)` of `count` entries spread
/// evenly over the last `days` days (oldest first, `seq` = index + 1), across `tenants`
/// ("tenant:project" each), written to stdout in COPY text format.
func writeLogRows(count: Int, days: Int, tenants: [(tenant: String, project: String)], part: Int, parts: Int) {
    LogEntryRenderer.check(tenant: tenants[0].tenant, project: tenants[0].project)
    let now = currentMillis()
    let span = Int64(days) * 86_400_000
    let start = now - span + 60_000
    let step = Double(span - 120_000) / Double(count)
    let lo = part * count / parts, hi = (part + 1) * count / parts
    var out: [UInt8] = []
    out.reserveCapacity(1 << 21)
    var entry: [UInt8] = []
    entry.reserveCapacity(1024)
    for i in lo..<hi {
        let (tenant, project) = tenants[Int(LogEntryRenderer.mix(i, 4) % UInt64(tenants.count))]
        let app = LogEntryRenderer.apps[LogEntryRenderer.app(i)]
        let level = LogEntryRenderer.level(i)
        let millis = start + Int64(Double(i) * step)
        let id = "q" + String(i)
        entry.removeAll(keepingCapacity: true)
        LogEntryRenderer.render(into: &entry, tenant: tenant, project: project, app: app, id: id, millis: millis,
                                level: level.name, message: LogEntryRenderer.message(i))
        appendCopyRow(&out, tenant: tenant, millis: millis, seq: Int64(i) + 1, id: id, project: project, app: app,
                      rank: level.rank, entry: entry[...])
        if out.count >= 1 << 20 {
            writeOut(out)
            out.removeAll(keepingCapacity: true)
        }
    }
    writeOut(out)
}

/// `logs-publish`, unpaced (`rate` 0): `count` entries rendered first, then published on core NATS
/// as fast as the connection takes them, flushed, and waited for until `FLUKE_LOGS` holds them all.
/// With `copyFile`, the same entries also go there as COPY rows, each with the stream sequence it
/// got. Paced (`rate` > 0): one entry every 1/rate s from a thread of its own, each carrying its
/// send time (CLOCK_REALTIME ns) at the start of its `message` (`sent_ns=…`), for the live-tail
/// latency. Prints "published first_seq last_seq".
func publishLogEntries(_ nats: NATSClient, tenant: String, project: String, count: Int, rate: Int, tag: String,
                       copyFile: String?) async throws {
    LogEntryRenderer.check(tenant: tenant, project: project)
    let subjects = LogEntryRenderer.apps.map { "fluke.logs.\(tenant).\($0)" }
    let before = try await nats.streamInfo(UnifiedLogEntry.streamName).lastSequence
    if rate <= 0 {
        let now = currentMillis()
        var batch: [NATSMessage] = []
        var rows: [UInt8] = []
        var entry: [UInt8] = []
        for i in 0..<count {
            let app = LogEntryRenderer.app(i)
            let level = LogEntryRenderer.level(i)
            let millis = now - Int64(count - i) / 4
            let id = tag + "-" + String(i)
            entry.removeAll(keepingCapacity: true)
            LogEntryRenderer.render(into: &entry, tenant: tenant, project: project, app: LogEntryRenderer.apps[app], id: id,
                                    millis: millis, level: level.name, message: LogEntryRenderer.message(i))
            batch.append(NATSMessage(subject: subjects[app], payload: Data(entry)))
            if copyFile != nil {
                appendCopyRow(&rows, tenant: tenant, millis: millis, seq: Int64(before) + 1 + Int64(i), id: id, project: project,
                              app: LogEntryRenderer.apps[app], rank: level.rank, entry: entry[...])
            }
        }
        if let copyFile { try Data(rows).write(to: URL(fileURLWithPath: copyFile)) }
        for start in stride(from: 0, to: count, by: 1000) {
            try await nats.publish(batch: Array(batch[start..<min(start + 1000, count)]))
        }
        try await nats.flush(timeout: .seconds(60))
    } else {
        final class Done: Sendable { let value = Atomic<Bool>(false) }
        let done = Done()
        let thread = Thread {
            var start = timespec()
            clock_gettime(CLOCK_MONOTONIC, &start)
            let startNs = Int64(start.tv_sec) * 1_000_000_000 + Int64(start.tv_nsec)
            var entry: [UInt8] = []
            for i in 0..<count {
                let due = startNs + Int64(i) * 1_000_000_000 / Int64(rate)
                var ts = timespec(tv_sec: Int(due / 1_000_000_000), tv_nsec: Int(due % 1_000_000_000))
                while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
                let app = LogEntryRenderer.app(i)
                let sent = wallNanoseconds()
                entry.removeAll(keepingCapacity: true)
                LogEntryRenderer.render(into: &entry, tenant: tenant, project: project, app: LogEntryRenderer.apps[app],
                                        id: tag + "-" + String(i), millis: sent / 1_000_000,
                                        level: LogEntryRenderer.level(i).name,
                                        message: "sent_ns=" + String(sent) + " " + LogEntryRenderer.message(i))
                // On this thread, not the publisher's: no hop between the timestamp and the socket.
                guard nats.publishOnDeliveryThread(subjects[app], payload: Data(entry)) else { fail("publish failed") }
            }
            done.value.store(true, ordering: .releasing)
        }
        thread.start()
        while !done.value.load(ordering: .acquiring) { try await Task.sleep(for: .milliseconds(50)) }
        try await nats.flush(timeout: .seconds(30))
    }
    // Stored by nats-server: the stream has every one of them (core publishes are not acknowledged).
    let deadline = ContinuousClock.now + .seconds(60)
    var last = before
    while ContinuousClock.now < deadline {
        last = try await nats.streamInfo(UnifiedLogEntry.streamName).lastSequence
        if last >= before + UInt64(count) { break }
        try await Task.sleep(for: .milliseconds(20))
    }
    guard last == before + UInt64(count) else {
        fail("FLUKE_LOGS went from \(before) to \(last), not by \(count)")
    }
    print(before + 1, last)
}
