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

    func register(_ r: inout RouteRecorder) {
        registerMCP(&r)
        registerProviders(&r)
        registerUsage(&r)
    }

    /// Reads `{preset?, enabled_plugins, context_level, plugin_settings}`; fields left out keep `base`'s values.
    static func configuration(_ f: RequestFields, base: MCPConfiguration, allowPreset: Bool) throws -> MCPConfiguration {
        try f.allowOnly(allowPreset ? ["preset", "enabled_plugins", "context_level", "plugin_settings"]
                                    : ["name", "enabled_plugins", "context_level", "plugin_settings"])
        var config = base
        if allowPreset, f.has("preset") { config.preset = try f.string("preset", maxLength: 100, nullable: true) }
        if let plugins = try f.strings("enabled_plugins", maxCount: 50, maxLength: 100) {
            guard Set(plugins).count == plugins.count else { throw Problem.invalid("enabled_plugins", "must not repeat a plugin") }
            config.enabledPlugins = plugins
        }
        if let level = try f.oneOf("context_level", ContextLevel.self) { config.contextLevel = level }
        if let settings = f.values["plugin_settings"] {
            guard case .object = settings else { throw Problem.invalid("plugin_settings", "must be an object keyed by plugin name") }
            config.pluginSettings = settings
        }
        return config
    }

    private func registerMCP(_ r: inout RouteRecorder) {
        r.on(.get, "/api/v1/mcp/plugins") { _, ctx in
            _ = try ctx.principal(requiring: .contextRead)
            return Page(items: try await mcp.plugins(), nextCursor: nil)
        }
        r.on(.get, "/api/v1/projects/{project_id}/mcp_configuration") { _, ctx in
            let p = try ctx.principal(requiring: .contextRead)
            return try await mcp.get(try await access.project(try Parameters.uuid(ctx, "project_id"), for: p), p: p)
        }
        r.on(.put, "/api/v1/projects/{project_id}/mcp_configuration") { request, ctx in
            let p = try ctx.principal(requiring: .contextWrite)
            let project = try await access.project(try Parameters.uuid(ctx, "project_id"), for: p)
            let f = try await RequestFields.read(request, context: ctx)
            // PUT replaces: what is left out takes the defaults.
            let config = try Self.configuration(f, base: .standard, allowPreset: true)
            return try await mcp.put(project, config, principal: p)
        }
        r.on(.get, "/api/v1/mcp/presets") { _, ctx in
            Page(items: try await mcp.presets(p: try ctx.tenantWidePrincipal(requiring: .contextRead)), nextCursor: nil)
        }
        r.on(.post, "/api/v1/mcp/presets") { request, ctx in
            let p = try ctx.tenantWidePrincipal(requiring: .admin)
            let f = try await RequestFields.read(request, context: ctx)
            let name = try f.string("name", required: true, maxLength: 100)!
            let (preset, _) = try await mcp.savePreset(nil, name: name, config: try Self.configuration(f, base: .standard, allowPreset: false), p: p)
            return try preset.response(from: request, context: ctx).withStatus(.created)
        }
        r.on(.get, "/api/v1/mcp/presets/{preset_id}") { _, ctx in
            try await mcp.preset(try Parameters.uuid(ctx, "preset_id"), p: try ctx.tenantWidePrincipal(requiring: .contextRead))
        }
        r.on(.patch, "/api/v1/mcp/presets/{preset_id}") { request, ctx in
            let p = try ctx.tenantWidePrincipal(requiring: .admin)
            let current = try await mcp.preset(try Parameters.uuid(ctx, "preset_id"), p: p)
            let f = try await RequestFields.read(request, context: ctx)
            let base = MCPConfiguration(preset: nil, enabledPlugins: current.enabledPlugins, pluginSettings: current.pluginSettings,
                                        contextLevel: current.contextLevel)
            let name = try f.string("name", maxLength: 100) ?? current.name
            return try await mcp.savePreset(current.id, name: name, config: try Self.configuration(f, base: base, allowPreset: false), p: p).0
        }
        r.on(.delete, "/api/v1/mcp/presets/{preset_id}") { _, ctx in
            try await mcp.deletePreset(try Parameters.uuid(ctx, "preset_id"), p: try ctx.tenantWidePrincipal(requiring: .admin))
            return Response(status: .noContent)
        }
        r.on(.post, "/api/v1/mcp/presets/{preset_id}/apply") { request, ctx in
            let p = try ctx.principal(requiring: .contextWrite)
            let preset = try await mcp.preset(try Parameters.uuid(ctx, "preset_id"), p: p)
            let f = try await RequestFields.read(request, context: ctx)
            try f.allowOnly(["project_id"])
            let project = try await access.project(try f.uuid("project_id", required: true)!, for: p)
            return try await mcp.put(project, MCPConfiguration(preset: preset.name, enabledPlugins: preset.enabledPlugins,
                                                               pluginSettings: preset.pluginSettings,
                                                               contextLevel: preset.contextLevel), principal: p)
        }
    }

    private func statuses(_ all: [AIProvider]) -> Page<ProviderStatus> {
        Page(items: all.map { ProviderStatus(name: $0.name, docsURL: $0.docsURL, lastAudit: $0.lastAudit, status: $0.status,
                                             detail: $0.detail, scope: $0.scope) }, nextCursor: nil)
    }

    private func registerProviders(_ r: inout RouteRecorder) {
        // The registry is tenant-wide (fleet entries and the tenant's own): not for a token bound
        // to one project.
        r.on(.get, "/api/v1/ai_providers") { _, ctx in
            let p = try ctx.tenantWidePrincipal(requiring: .contextRead)
            return Page(items: try await providers.all(for: p.tenantID), nextCursor: nil)
        }
        r.on(.get, "/api/v1/ai_providers/status") { _, ctx in
            statuses(try await providers.all(for: try ctx.tenantWidePrincipal(requiring: .contextRead).tenantID))
        }
        r.on(.post, "/api/v1/ai_providers/audit") { request, ctx in
            let p = try ctx.tenantWidePrincipal(requiring: .admin)
            let checked = try await auditor.auditAll(tenant: p.tenantID)
            var response = try statuses(try await providers.all(for: p.tenantID)).response(from: request, context: ctx)
            if checked == 0 { response.status = .accepted }
            return response
        }
        // Writes change only the caller's tenant's entries; the fleet's seeded ones are read-only.
        r.on(.put, "/api/v1/ai_providers/{name}") { request, ctx in
            let p = try ctx.tenantWidePrincipal(requiring: .admin)
            let name = ctx.parameters.get("name") ?? ""
            guard (1...64).contains(name.count), name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) else {
                throw Problem.invalid("name", "must be 1 to 64 lower-case letters, digits or dashes")
            }
            let f = try await RequestFields.read(request, context: ctx)
            // A provider as GET shows it may come back (a round trip): the name must be this one;
            // scope and the audit's results are the server's, accepted and ignored.
            try f.allowOnly(["display_name", "tools", "docs_url", "name", "scope", "last_audit", "status", "detail"])
            try f.unchanged("name", .string(name))
            let url = try f.string("docs_url", required: true, maxLength: 2048)!
            do {
                // The form only; the audit resolves the host and checks every address when it calls.
                _ = try auditor.fetcher.policy.check(url)
            } catch let error as URLPolicyError {
                throw Problem.invalid("docs_url", error.reason)
            }
            let (provider, isNew) = try await providers.upsert(
                tenant: p.tenantID, name: name, displayName: try f.string("display_name", maxLength: 100) ?? name,
                tools: try f.strings("tools", maxCount: 50, maxLength: 100) ?? [], docsURL: url)
            return try provider.response(from: request, context: ctx).withStatus(isNew ? .created : .ok)
        }
        r.on(.delete, "/api/v1/ai_providers/{name}") { _, ctx in
            let p = try ctx.tenantWidePrincipal(requiring: .admin)
            try await providers.delete(tenant: p.tenantID, name: ctx.parameters.get("name") ?? "")
            return Response(status: .noContent)
        }
    }

    private func registerUsage(_ r: inout RouteRecorder) {
        r.on(.get, "/api/v1/projects/{project_id}/installations") { request, ctx in
            let p = try ctx.principal(requiring: .contextRead)
            let project = try await access.project(try Parameters.uuid(ctx, "project_id"), for: p)
            let all = request.uri.queryParameters["all"].map { $0 == "true" } ?? false
            return Page(items: try await usage.installations(project, p: p, activeOnly: !all), nextCursor: nil)
        }
        r.on(.get, "/api/v1/projects/{project_id}/usage") { _, ctx in
            let p = try ctx.principal(requiring: .contextRead)
            return try await usage.usage(try await access.project(try Parameters.uuid(ctx, "project_id"), for: p), p: p)
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
