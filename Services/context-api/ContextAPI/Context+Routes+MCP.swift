import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// MCP configuration, plugins and presets; the AI provider registry; usage and installations.
///
/// Presets and edits of the provider registry are the tenant's, not a project's: a token bound to
/// a project gets 403 on them whatever its scopes. It may still read the fleet's catalogs (plugins,
/// providers) its project's configuration is written against, and apply a preset to its project.
struct ContextAdminRoutes: Sendable {
    let access: ProjectAccess
    let mcp: MCPStore
    let providers: ProviderStore
    let auditor: ProviderAuditor
    let usage: UsageRecorder

    func register(_ routes: inout RouteRecorder) {
        registerMCP(&routes)
        registerProviders(&routes)
        registerUsage(&routes)
    }

    /// Reads `{preset?, enabled_plugins, context_level, plugin_settings}`; fields left out keep `base`'s values.
    static func configuration(_ fields: RequestFields, base: MCPConfiguration, allowPreset: Bool) throws -> MCPConfiguration {
        try fields.allowOnly(allowPreset ? ["preset", "enabled_plugins", "context_level", "plugin_settings"]
                                    : ["name", "enabled_plugins", "context_level", "plugin_settings"])
        var config = base
        if allowPreset, fields.has("preset") { config.preset = try fields.string("preset", maxLength: 100, nullable: true) }
        if let plugins = try fields.strings("enabled_plugins", maxCount: 50, maxLength: 100) {
            guard Set(plugins).count == plugins.count else { throw Problem.invalid("enabled_plugins", "must not repeat a plugin") }
            config.enabledPlugins = plugins
        }
        if let level = try fields.oneOf("context_level", ContextLevel.self) { config.contextLevel = level }
        if let settings = fields.values["plugin_settings"] {
            guard case .object = settings else { throw Problem.invalid("plugin_settings", "must be an object keyed by plugin name") }
            config.pluginSettings = settings
        }
        return config
    }

    private func registerMCP(_ routes: inout RouteRecorder) {
        routes.on(.get, "/api/v1/mcp/plugins") { _, context in
            _ = try context.principal(requiring: .contextRead)
            return Page(items: try await mcp.plugins(), nextCursor: nil)
        }
        routes.on(.get, "/api/v1/projects/{project_id}/mcp_configuration") { _, context in
            let principal = try context.principal(requiring: .contextRead)
            return try await mcp.get(try await access.project(try Parameters.uuid(context, "project_id"), for: principal), principal: principal)
        }
        routes.on(.put, "/api/v1/projects/{project_id}/mcp_configuration") { request, context in
            let principal = try context.principal(requiring: .contextWrite)
            let project = try await access.project(try Parameters.uuid(context, "project_id"), for: principal)
            let fields = try await RequestFields.read(request, context: context)
            // PUT replaces: what is left out takes the defaults.
            let config = try Self.configuration(fields, base: .standard, allowPreset: true)
            return try await mcp.put(project, config, principal: principal)
        }
        routes.on(.get, "/api/v1/mcp/presets") { _, context in
            Page(items: try await mcp.presets(principal: try context.tenantWidePrincipal(requiring: .contextRead)), nextCursor: nil)
        }
        routes.on(.post, "/api/v1/mcp/presets") { request, context in
            let principal = try context.tenantWidePrincipal(requiring: .admin)
            let fields = try await RequestFields.read(request, context: context)
            let name = try fields.string("name", required: true, maxLength: 100)!
            let (preset, _) = try await mcp.savePreset(nil, name: name, config: try Self.configuration(fields, base: .standard, allowPreset: false), principal: principal)
            return try preset.response(from: request, context: context).withStatus(.created)
        }
        routes.on(.get, "/api/v1/mcp/presets/{preset_id}") { _, context in
            try await mcp.preset(try Parameters.uuid(context, "preset_id"), principal: try context.tenantWidePrincipal(requiring: .contextRead))
        }
        routes.on(.patch, "/api/v1/mcp/presets/{preset_id}") { request, context in
            let principal = try context.tenantWidePrincipal(requiring: .admin)
            let current = try await mcp.preset(try Parameters.uuid(context, "preset_id"), principal: principal)
            let fields = try await RequestFields.read(request, context: context)
            let base = MCPConfiguration(preset: nil, enabledPlugins: current.enabledPlugins, pluginSettings: current.pluginSettings,
                                        contextLevel: current.contextLevel)
            let name = try fields.string("name", maxLength: 100) ?? current.name
            return try await mcp.savePreset(current.id, name: name, config: try Self.configuration(fields, base: base, allowPreset: false), principal: principal).0
        }
        routes.on(.delete, "/api/v1/mcp/presets/{preset_id}") { _, context in
            try await mcp.deletePreset(try Parameters.uuid(context, "preset_id"), principal: try context.tenantWidePrincipal(requiring: .admin))
            return Response(status: .noContent)
        }
        routes.on(.post, "/api/v1/mcp/presets/{preset_id}/apply") { request, context in
            let principal = try context.principal(requiring: .contextWrite)
            let preset = try await mcp.preset(try Parameters.uuid(context, "preset_id"), principal: principal)
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["project_id"])
            let project = try await access.project(try fields.uuid("project_id", required: true)!, for: principal)
            return try await mcp.put(project, MCPConfiguration(preset: preset.name, enabledPlugins: preset.enabledPlugins,
                                                               pluginSettings: preset.pluginSettings,
                                                               contextLevel: preset.contextLevel), principal: principal)
        }
    }

    private func statuses(_ all: [AIProvider]) -> Page<ProviderStatus> {
        Page(items: all.map { ProviderStatus(name: $0.name, docsURL: $0.docsURL, lastAudit: $0.lastAudit, status: $0.status,
                                             detail: $0.detail, scope: $0.scope) }, nextCursor: nil)
    }

    private func registerProviders(_ routes: inout RouteRecorder) {
        // The registry is tenant-wide (fleet entries and the tenant's own): not for a token bound
        // to one project.
        routes.on(.get, "/api/v1/ai_providers") { _, context in
            let principal = try context.tenantWidePrincipal(requiring: .contextRead)
            return Page(items: try await providers.all(for: principal.tenantID), nextCursor: nil)
        }
        routes.on(.get, "/api/v1/ai_providers/status") { _, context in
            statuses(try await providers.all(for: try context.tenantWidePrincipal(requiring: .contextRead).tenantID))
        }
        routes.on(.post, "/api/v1/ai_providers/audit") { request, context in
            let principal = try context.tenantWidePrincipal(requiring: .admin)
            let checked = try await auditor.auditAll(tenant: principal.tenantID)
            var response = try statuses(try await providers.all(for: principal.tenantID)).response(from: request, context: context)
            if checked == 0 { response.status = .accepted }
            return response
        }
        // Writes change only the caller's tenant's entries; the fleet's seeded ones are read-only.
        routes.on(.put, "/api/v1/ai_providers/{name}") { request, context in
            let principal = try context.tenantWidePrincipal(requiring: .admin)
            let name = context.parameters.get("name") ?? ""
            guard (1...64).contains(name.count), name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) else {
                throw Problem.invalid("name", "must be 1 to 64 lower-case letters, digits or dashes")
            }
            let fields = try await RequestFields.read(request, context: context)
            // A provider as GET shows it may come back (a round trip): the name must be this one;
            // scope and the audit's results are the server's, accepted and ignored.
            try fields.allowOnly(["display_name", "tools", "docs_url", "name", "scope", "last_audit", "status", "detail"])
            try fields.unchanged("name", .string(name))
            let url = try fields.string("docs_url", required: true, maxLength: 2048)!
            do {
                // The form only; the audit resolves the host and checks every address when it calls.
                _ = try auditor.fetcher.policy.check(url)
            } catch let error as URLPolicyError {
                throw Problem.invalid("docs_url", error.reason)
            }
            let (provider, isNew) = try await providers.upsert(
                tenant: principal.tenantID, name: name, displayName: try fields.string("display_name", maxLength: 100) ?? name,
                tools: try fields.strings("tools", maxCount: 50, maxLength: 100) ?? [], docsURL: url)
            return try provider.response(from: request, context: context).withStatus(isNew ? .created : .ok)
        }
        routes.on(.delete, "/api/v1/ai_providers/{name}") { _, context in
            let principal = try context.tenantWidePrincipal(requiring: .admin)
            try await providers.delete(tenant: principal.tenantID, name: context.parameters.get("name") ?? "")
            return Response(status: .noContent)
        }
    }

    private func registerUsage(_ routes: inout RouteRecorder) {
        routes.on(.get, "/api/v1/projects/{project_id}/installations") { request, context in
            let principal = try context.principal(requiring: .contextRead)
            let project = try await access.project(try Parameters.uuid(context, "project_id"), for: principal)
            let all = request.uri.queryParameters["all"].map { $0 == "true" } ?? false
            return Page(items: try await usage.installations(project, principal: principal, activeOnly: !all), nextCursor: nil)
        }
        routes.on(.get, "/api/v1/projects/{project_id}/usage") { _, context in
            let principal = try context.principal(requiring: .contextRead)
            return try await usage.usage(try await access.project(try Parameters.uuid(context, "project_id"), for: principal), principal: principal)
        }
    }
}

struct ProviderStatus: Codable, Sendable {
    var name: String
    var docsURL: String
    var lastAudit: Date?
    var status: String
    var detail: String?
    var scope: String
    enum CodingKeys: String, CodingKey {
        case name, status, detail, scope
        case docsURL = "docs_url", lastAudit = "last_audit"
    }
}

extension MCPPlugin: ResponseEncodable {}
extension MCPPreset: ResponseEncodable {}
