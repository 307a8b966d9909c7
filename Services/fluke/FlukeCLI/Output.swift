import FlukeClient
import FlukeModels
import Foundation

/// How fluke prints: tables for people, the API's JSON with `--json`, colour only on a terminal.
enum Output {
    enum Stream { case standardOutput, standardError }

    static let isTerminal = isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil

    static func write(_ text: String, to stream: Stream = .standardOutput) {
        let handle = stream == .standardOutput ? FileHandle.standardOutput : FileHandle.standardError
        handle.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }

    static func error(_ text: String) {
        let coloured = isatty(STDERR_FILENO) == 1 ? "\u{1B}[31m\(text)\u{1B}[0m" : text
        write(coloured, to: .standardError)
    }

    static func printJSON(_ value: some JSONConvertible, to stream: Stream = .standardOutput) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value.json)) ?? Data("null".utf8)
        write(String(decoding: data, as: UTF8.self), to: stream)
    }

    /// `value` as JSON with `--json`, else as `render` prints it.
    static func show(_ value: some JSONConvertible, json: Bool, _ render: (JSONValue) -> Void) {
        if json { printJSON(value) } else { render(value.json) }
    }

    /// A table of `items` (objects): one column per `(title, key path)`; text made safe to print.
    static func table(_ items: [JSONValue], _ columns: [(String, String)], empty: String = "(none)") {
        guard !items.isEmpty else { write(empty); return }
        let rows = items.map { item in columns.map { cell(item, path: $0.1) } }
        var widths = columns.map { $0.0.count }
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = min(max(widths[i], cell.count), 60) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, text in
                let clipped = text.count > widths[i] ? String(text.prefix(widths[i] - 1)) + "…" : text
                return clipped.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        let header = line(columns.map { $0.0.uppercased() })
        write(isTerminal ? "\u{1B}[1m\(header)\u{1B}[0m" : header)
        for row in rows { write(line(row)) }
    }

    /// ONLINE in green and OFFLINE in red, on a terminal.
    static func coloured(_ status: String) -> String {
        guard isTerminal else { return status }
        switch status {
        case "ONLINE", "success", "running": return "\u{1B}[32m\(status)\u{1B}[0m"
        case "OFFLINE", "failed": return "\u{1B}[31m\(status)\u{1B}[0m"
        default: return status
        }
    }

    /// `key: value` lines for one object.
    static func fields(_ value: JSONValue, _ keys: [(String, String)]) {
        let width = keys.map { $0.0.count }.max() ?? 0
        for (title, path) in keys {
            let text = cell(value, path: path)
            guard !text.isEmpty else { continue }
            write(title.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + text)
        }
    }

    /// The value at a dotted path as one line of text, control characters shown as `?`.
    static func cell(_ value: JSONValue, path: String) -> String {
        var current: JSONValue? = value
        for key in path.split(separator: ".") { current = current?[String(key)] }
        let text: String
        switch current {
        case nil, .null?: text = ""
        case .string(let s)?: text = s
        case .bool(let b)?: text = b ? "yes" : "no"
        case .number(let n)?: text = n.rounded() == n && abs(n) < 9e15 ? String(Int64(n)) : String(n)
        case .array(let a)?: text = a.map { cell($0, path: "") }.joined(separator: ",")
        case .object?: text = "{…}"
        }
        return String(text.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : Character($0) })
    }

    /// The `items` of a page answer.
    static func items(_ page: JSONValue) -> [JSONValue] {
        if case .array(let items)? = page["items"] { return items }
        if case .array(let items) = page { return items }
        return []
    }
}
