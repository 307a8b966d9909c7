import FlukeClient
import FlukeModels
import Foundation
import MCP

/// One MCP tool over the fleet: its schema, what it needs, and what it does.
struct FleetTool: Sendable {
    /// Stable: agents' configurations name tools.
    let name: String
    let title: String
    let description: String
    /// `--toolsets` narrows by these: context, memories, tasks, deploy, logs, catalog.
    let toolset: String
    /// The scope a token needs for it (admin has them all); tools it lacks are not listed.
    let scope: String
    let readOnly: Bool
    let destructive: Bool
    /// JSON Schema properties of its arguments, and which are required.
    let properties: [String: Value]
    let required: [String]
    let run: @Sendable (FlukeClient, ToolArguments) async throws -> any JSONConvertible

    init(_ name: String, _ title: String, toolset: String, scope: String, readOnly: Bool, destructive: Bool = false,
         description: String, properties: [String: Value] = [:], required: [String] = [],
         run: @escaping @Sendable (FlukeClient, ToolArguments) async throws -> any JSONConvertible) {
        self.name = name
        self.title = title
        self.toolset = toolset
        self.scope = scope
        self.readOnly = readOnly
        self.destructive = destructive
        self.description = description
        self.properties = properties
        self.required = required
        self.run = run
    }

    var tool: Tool {
        Tool(name: name, title: title, description: description,
             inputSchema: .object(["type": "object", "properties": .object(properties),
                                   "required": .array(required.map { .string($0) }), "additionalProperties": false]),
             annotations: .init(title: title, readOnlyHint: readOnly, destructiveHint: destructive,
                                idempotentHint: readOnly ? true : nil, openWorldHint: false),
             // Every answer is the API's JSON object (a page has `items` and `next_cursor`).
             outputSchema: .object(["type": "object"]))
    }

    func allowed(scopes: Set<String>) -> Bool { scopes.contains("admin") || scopes.contains(scope) }
}

/// JSON Schema snippets for tool arguments.
enum Schema {
    static func string(_ description: String) -> Value { .object(["type": "string", "description": .string(description)]) }
    static func uuid(_ description: String) -> Value {
        .object(["type": "string", "format": "uuid", "description": .string(description)])
    }
    static func integer(_ description: String, _ range: ClosedRange<Int>, default value: Int? = nil) -> Value {
        var schema: [String: Value] = ["type": "integer", "description": .string(description),
                                       "minimum": .int(range.lowerBound), "maximum": .int(range.upperBound)]
        if let value { schema["default"] = .int(value) }
        return .object(schema)
    }
    static func boolean(_ description: String) -> Value { .object(["type": "boolean", "description": .string(description)]) }
    static func strings(_ description: String) -> Value {
        .object(["type": "array", "items": ["type": "string"], "description": .string(description)])
    }
    static func oneOf(_ values: [String], _ description: String) -> Value {
        .object(["type": "string", "enum": .array(values.map { .string($0) }), "description": .string(description)])
    }
    static let project = uuid("The project's id; may be left out when the token is bound to one project.")
    static let confirm = boolean("Must be true for the tool to act; without it the tool only says what it would do.")
}
