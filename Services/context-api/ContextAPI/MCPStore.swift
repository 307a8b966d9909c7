import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

public struct MCPPlugin: Codable, Sendable {
    public var name: String
    public var description: String
    public var settingsSchema: JSONValue
    enum CodingKeys: String, CodingKey { case name, description, settingsSchema = "settings_schema" }
}

public struct MCPPreset: Codable, Sendable {
    public var id: UUID
    public var name: String
    public var enabledPlugins: [String]
    public var contextLevel: ContextLevel
    public var pluginSettings: JSONValue
    public var updatedAt: Date
    enum CodingKeys: String, CodingKey {
        case id, name
        case enabledPlugins = "enabled_plugins", contextLevel = "context_level", pluginSettings = "plugin_settings"
        case updatedAt = "updated_at"
    }
}

/// MCP configuration per project, the plugin registry that validates it, and tenant presets.
/// Every change to a project's configuration emits `mcp.config_changed` and enters the changes
/// feed, which is how connected tools learn to reconfigure.
struct MCPStore: Sendable {
    let db: TenantDatabase
    /// Told after each committed change, so cached contexts of the project are dropped.
    let cache: ContextCache

    static func query(_ project: UUID, tenant: UUID) -> PostgresQuery {
        """
        SELECT preset, enabled_plugins, plugin_settings::text, context_level FROM context.mcp_configurations
        WHERE project_id = \(project) AND tenant_id = \(tenant)
        """
    }

    static func configuration(_ project: UUID, tenant: UUID, on tx: PostgresHandle) async throws -> MCPConfiguration {
        try decode(try await tx.query(query(project, tenant: tenant)))
    }

    static func decode(_ rows: PostgresRows) throws -> MCPConfiguration {
        guard let row = rows.first else { return .standard }
        return MCPConfiguration(preset: try row.decode(String?.self, at: 0), enabledPlugins: try row.decode([String].self, at: 1),
                                pluginSettings: try FleetJSON.decode(JSONValue.self, from: Data(try row.decode(String.self, at: 2).utf8)),
                                contextLevel: ContextLevel(rawValue: try row.decode(String.self, at: 3)) ?? .standard)
    }

    func plugins() async throws -> [MCPPlugin] {
        // The registry is the fleet's, the same for every tenant: no tenant setting needed.
        try await db.postgres.query("SELECT name, description, settings_schema::text FROM context.mcp_plugins ORDER BY name").map {
            MCPPlugin(name: try $0.decode(String.self, at: 0), description: try $0.decode(String.self, at: 1),
                      settingsSchema: try FleetJSON.decode(JSONValue.self, from: Data(try $0.decode(String.self, at: 2).utf8)))
        }
    }

    /// 422 unless every enabled plugin exists and every settings object fits its plugin's schema.
    func validate(_ config: MCPConfiguration, fieldPrefix: String = "") async throws {
        let registry = Dictionary(uniqueKeysWithValues: try await plugins().map { ($0.name, $0) })
        for (i, name) in config.enabledPlugins.enumerated() where registry[name] == nil {
            throw ContextError.invalid(field: "\(fieldPrefix)enabled_plugins[\(i)]", "no plugin named \(name) (see GET /api/v1/mcp/plugins)")
        }
        guard case .object(let settings) = config.pluginSettings else {
            throw ContextError.invalid(field: "\(fieldPrefix)plugin_settings", "must be an object keyed by plugin name")
        }
        for name in settings.keys.sorted() {
            guard let plugin = registry[name] else {
                throw ContextError.invalid(field: "\(fieldPrefix)plugin_settings.\(name)", "no plugin named \(name)")
            }
            guard config.enabledPlugins.contains(name) else {
                throw ContextError.invalid(field: "\(fieldPrefix)plugin_settings.\(name)", "the plugin is not enabled")
            }
            try SettingsSchema(schema: plugin.settingsSchema).validate(settings[name]!, at: "\(fieldPrefix)plugin_settings.\(name)")
        }
    }

    func get(_ project: ProjectInfo, principal: Principal) async throws -> MCPConfiguration {
        try Self.decode(try await db.read(principal, Self.query(project.id, tenant: principal.tenantID))[0])
    }

    func put(_ project: ProjectInfo, _ config: MCPConfiguration, principal: Principal) async throws -> MCPConfiguration {
        try await validate(config)
        let settings = String(decoding: try FleetJSON.encoder.encode(config.pluginSettings), as: UTF8.self)
        defer { cache.invalidate(project.id) }
        return try await db.inTenant(of: principal) { tx in
            try await ChangeLog.lock(project.id, on: tx)
            try await tx.query("""
                INSERT INTO context.mcp_configurations (project_id, tenant_id, preset, enabled_plugins, context_level,
                                                        plugin_settings, updated_by)
                VALUES (\(project.id), \(principal.tenantID), \(config.preset), \(config.enabledPlugins)::text[],
                        \(config.contextLevel.rawValue), \(settings)::jsonb, \(principal.userID))
                ON CONFLICT (project_id) DO UPDATE SET preset = EXCLUDED.preset, enabled_plugins = EXCLUDED.enabled_plugins,
                    context_level = EXCLUDED.context_level, plugin_settings = EXCLUDED.plugin_settings,
                    updated_by = EXCLUDED.updated_by, version = context.mcp_configurations.version + 1, updated_at = now()
                """)
            let payload = MCPConfigChangedPayload(preset: config.preset, enabledPlugins: config.enabledPlugins,
                                                  pluginSettings: config.pluginSettings,
                                                  contextLevel: config.contextLevel.rawValue, projectID: project.id)
            let event = try CloudEvent(source: "context-api", type: .mcpConfigChanged, tenantID: principal.tenantID.lowercased,
                                       projectID: project.id.lowercased, payload: payload)
            try await ChangeLog.append(project.id, tenant: principal.tenantID, entity: "mcp_configuration", id: project.id.lowercased,
                                       op: "upsert", data: event.data, on: tx)
            try await db.outbox.enqueue(event, on: tx)
            return config
        }
    }

    // MARK: presets

    static func preset(_ row: PostgresRow) throws -> MCPPreset {
        MCPPreset(id: try row.decode(UUID.self, at: 0), name: try row.decode(String.self, at: 1),
                  enabledPlugins: try row.decode([String].self, at: 2),
                  contextLevel: ContextLevel(rawValue: try row.decode(String.self, at: 3)) ?? .standard,
                  pluginSettings: try FleetJSON.decode(JSONValue.self, from: Data(try row.decode(String.self, at: 4).utf8)),
                  updatedAt: try row.decode(Date.self, at: 5))
    }

    static let presetColumns: StaticString = "id, name, enabled_plugins, context_level, plugin_settings::text, updated_at"

    func presets(principal: Principal) async throws -> [MCPPreset] {
        try await db.read(principal, """
            SELECT \(sql: Self.presetColumns) FROM context.mcp_presets WHERE tenant_id = \(principal.tenantID) ORDER BY name
            """)[0].map(Self.preset)
    }

    func preset(_ id: UUID, principal: Principal) async throws -> MCPPreset {
        guard let row = try await db.read(principal, """
            SELECT \(sql: Self.presetColumns) FROM context.mcp_presets WHERE id = \(id) AND tenant_id = \(principal.tenantID)
            """)[0].first else { throw ContextError.notFound("preset") }
        return try Self.preset(row)
    }

    func savePreset(_ id: UUID?, name: String, config: MCPConfiguration, principal: Principal) async throws -> (MCPPreset, created: Bool) {
        try await validate(config)
        let settings = String(decoding: try FleetJSON.encoder.encode(config.pluginSettings), as: UTF8.self)
        do {
            if let id {
                guard let row = try await db.read(principal, """
                    UPDATE context.mcp_presets SET name = \(name), enabled_plugins = \(config.enabledPlugins)::text[],
                        context_level = \(config.contextLevel.rawValue), plugin_settings = \(settings)::jsonb, updated_at = now()
                    WHERE id = \(id) AND tenant_id = \(principal.tenantID)
                    RETURNING \(sql: Self.presetColumns)
                    """)[0].first else { throw ContextError.notFound("preset") }
                return (try Self.preset(row), false)
            }
            let row = try await db.read(principal, """
                INSERT INTO context.mcp_presets (id, tenant_id, name, enabled_plugins, context_level, plugin_settings)
                VALUES (\(UUID()), \(principal.tenantID), \(name), \(config.enabledPlugins)::text[], \(config.contextLevel.rawValue),
                        \(settings)::jsonb)
                RETURNING \(sql: Self.presetColumns)
                """)[0].first!
            return (try Self.preset(row), true)
        } catch let error as PostgresError where error.isUniqueViolation {
            throw ContextError.conflict(field: "name", "a preset named \(name) already exists")
        }
    }

    func deletePreset(_ id: UUID, principal: Principal) async throws {
        guard try await db.read(principal, """
            DELETE FROM context.mcp_presets WHERE id = \(id) AND tenant_id = \(principal.tenantID)
            """)[0].affectedRows == 1 else { throw ContextError.notFound("preset") }
    }
}
