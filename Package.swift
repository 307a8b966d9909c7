// swift-tools-version: 6.0
import PackageDescription

/// FlukeBase Fleet: services over one shared runtime (libpq, libnats, Hummingbird).
///
/// Six services exist: project-manager, context-api, webhook-dispatcher, federation,
/// deploy-tracker and log-streamer (docs/architecture.md, "Who owns what").
/// Each service is a library target holding its `buildApplication(...)` plus a thin executable,
/// so the tests exercise exactly what runs in production. A service's OpenAPI document is its
/// `openapi.json`, compiled in (`.embedInCode`) and served completed with the shared parts.
let package = Package(
    name: "fluke-fleet",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "project-manager", targets: ["project-manager"]),
        .executable(name: "context-api", targets: ["context-api"]),
        .executable(name: "federation", targets: ["federation"]),
        .executable(name: "webhook-dispatcher", targets: ["webhook-dispatcher"]),
        .executable(name: "deploy-tracker", targets: ["deploy-tracker"]),
        .executable(name: "log-streamer", targets: ["log-streamer"]),
        .executable(name: "fleet-bench", targets: ["fleet-bench"]),
        .executable(name: "fluke", targets: ["fluke"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.100.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // Already in the graph through AsyncHTTPClient; named because the kubernetes executor
        // trusts a cluster's own CA through it.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.27.0"),
        // Already in the graph through Hummingbird; named for the HTTP/1 <-> HTTP types codec the
        // WebSocket upgrade path sets up itself (FleetWebSocketChannel).
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.22.0"),
        // The `fluke` CLI's commands, and its MCP server (Model Context Protocol 2025-11-25).
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk.git", from: "0.12.0"),
    ],
    targets: [
        // Layer 1: the C libraries, as system-library targets.
        .systemLibrary(name: "CLibPQ", path: "Shared/CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Shared/COpenSSL", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CNats", path: "Shared/CNats", pkgConfig: "libnats",
                       providers: [.apt(["libnats-dev"])]),
        // Inflates OTLP request bodies (log-streamer's BodyInflater). No new package: zlib is
        // already linked through AsyncHTTPClient's swift-nio-extras, which needs the same headers.
        .systemLibrary(name: "CZlib", path: "Shared/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // The models every service shares: event envelope, event types, list pages, timestamps.
        .target(name: "FlukeModels", path: "Shared/FlukeModels"),

        // Hashes, HMAC, scrypt, AES-GCM, Ed25519, JWT (EdDSA) and the CSPRNG over libcrypto.
        .target(name: "FlukeCrypto", dependencies: ["COpenSSL"], path: "Shared/FlukeCrypto"),

        // Layers 2 and 3: Swift cores owning the C pointers, and their async APIs.
        .target(name: "FlukePostgres", dependencies: [
            "CLibPQ", "FlukeModels",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Shared/FlukePostgres"),
        .target(name: "FlukeNATS", dependencies: [
            "CNats", "FlukeModels",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Shared/FlukeNATS"),

        // The runtime every service is built on: config, HTTP conventions, outbox, lifecycle.
        .target(name: "FlukeRuntime", dependencies: [
            "FlukeModels", "FlukePostgres", "FlukeNATS", "FlukeCrypto",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            // Fetches project-manager's JWKS (FLUKE_JWKS_URL).
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            // log-streamer's live tail (FleetWebSocketChannel).
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
        ], path: "Shared/FlukeRuntime",
        // The OpenAPI parts every service's document shares (see OpenAPIDocument).
        resources: [.embedInCode("Resources/openapi-common.json")]),

        // The web dashboard: static HTML, CSS and JavaScript modules (no build step, no npm),
        // served by project-manager under /ui/.
        .target(name: "Dashboard", path: "Services/dashboard/Dashboard", resources: [.copy("ui")]),

        // project-manager: tenants, identity and tokens for the fleet, projects, team, milestones, tasks.
        .target(name: "ProjectManager", dependencies: ["FlukeRuntime", "Dashboard"],
                path: "Services/project-manager/ProjectManager", resources: [.embedInCode("openapi.json")]),
        .executableTarget(name: "project-manager", dependencies: ["ProjectManager"],
                          path: "Services/project-manager/Main"),

        // context-api: the project context AI tools fetch; env vars, memories with sync, MCP configuration.
        .target(name: "ContextAPI", dependencies: [
            "FlukeRuntime",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ], path: "Services/context-api/ContextAPI", resources: [.embedInCode("openapi.json")]),
        .executableTarget(name: "context-api", dependencies: ["ContextAPI"], path: "Services/context-api/Main"),

        // webhook-dispatcher: Standard Webhooks delivery of fleet events to subscribers' URLs.
        .target(name: "WebhookDispatcher", dependencies: [
            "FlukeRuntime",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ], path: "Services/webhook-dispatcher/WebhookDispatcher", resources: [.embedInCode("openapi.json")]),
        .executableTarget(name: "webhook-dispatcher", dependencies: ["WebhookDispatcher"],
                          path: "Services/webhook-dispatcher/Main"),

        // federation: the project catalog, ONLINE/OFFLINE from NATS heartbeats.
        .target(name: "Federation", dependencies: [
            "FlukeRuntime",
            .product(name: "Yams", package: "Yams"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ], path: "Services/federation/Federation", resources: [.embedInCode("openapi.json")]),
        .executableTarget(name: "federation", dependencies: ["Federation"],
                          path: "Services/federation/Main"),

        // deploy-tracker's executors: the one protocol and its process (nginx), swarm (Docker Engine
        // API) and kubernetes (apps/v1) implementations; no database, no NATS.
        .target(name: "DeployExecutors", dependencies: [
            "FlukeModels", "FlukeRuntime",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], path: "Services/deploy-tracker/DeployExecutors"),

        // deploy-tracker: deployments through five phases with rollback, crash-safe under a lease.
        .target(name: "DeployTracker", dependencies: ["FlukeRuntime", "DeployExecutors"],
                path: "Services/deploy-tracker/DeployTracker", resources: [.embedInCode("openapi.json")]),
        .executableTarget(name: "deploy-tracker", dependencies: ["DeployTracker"], path: "Services/deploy-tracker/Main"),

        // log-streamer: JSON-LD log entries from FLUKE_LOGS and HTTP, stored by day, queried by tenant and project.
        .target(name: "LogStreamer", dependencies: ["FlukeRuntime", "CZlib"],
                path: "Services/log-streamer/LogStreamer", resources: [.embedInCode("openapi.json")]),
        .executableTarget(name: "log-streamer", dependencies: ["LogStreamer"], path: "Services/log-streamer/Main"),

        // One typed client for every service's REST API: the `fluke` CLI and MCP server use it.
        .target(name: "FlukeClient", dependencies: [
            "FlukeModels",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            // log-streamer's live tail.
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
        ], path: "Shared/FlukeClient"),
        // `fluke`: the CLI (commands, output) and `fluke mcp`, over FlukeClient.
        .target(name: "FlukeCLI", dependencies: [
            "FlukeClient", "FlukeModels",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "MCP", package: "swift-sdk"),
            // `fluke mcp --http`: Streamable HTTP.
            .product(name: "Hummingbird", package: "hummingbird"),
        ], path: "Services/fluke/FlukeCLI"),
        .executableTarget(name: "fluke", dependencies: ["FlukeCLI"], path: "Services/fluke/Main"),

        // `make bench`: the wrapper side of the comparisons (bare baselines are in bench/*.c).
        .executableTarget(name: "fleet-bench", dependencies: [
            "FlukeNATS", "FlukePostgres", "FlukeModels", .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            // The log-streamer section's WebSocket clients and its bare broadcaster.
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
        ], path: "bench/FleetBench"),

        .target(name: "FlukeTestSupport", dependencies: [
            "FlukeRuntime",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ], path: "Tests/FlukeTestSupport"),
        // Each service described once for the harness, for every service test target.
        .target(name: "FleetTestServices", dependencies: [
            "ProjectManager", "ContextAPI", "WebhookDispatcher", "Federation", "DeployTracker", "LogStreamer",
            "FlukeTestSupport",
        ], path: "Tests/FleetTestServices"),
        .testTarget(name: "FlukeRuntimeTests", dependencies: [
            "FlukeRuntime", "FlukeCrypto", "FlukeTestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ], path: "Tests/FlukeRuntimeTests"),
        .testTarget(name: "ProjectManagerTests", dependencies: [
            "FleetTestServices",
            "ProjectManager", "FlukeTestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ], path: "Tests/ProjectManagerTests"),
        .testTarget(name: "ContextAPITests", dependencies: [
            "FleetTestServices",
            "ContextAPI", "ProjectManager", "FlukeTestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ], path: "Tests/ContextAPITests"),
        .testTarget(name: "WebhookDispatcherTests", dependencies: [
            "FleetTestServices",
            "WebhookDispatcher", "ContextAPI", "ProjectManager", "FlukeTestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ], path: "Tests/WebhookDispatcherTests"),
        .testTarget(name: "DeployExecutorTests", dependencies: [
            "DeployExecutors", "FlukeTestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ], path: "Tests/DeployExecutorTests"),
        .testTarget(name: "DeployTrackerTests", dependencies: [
            "FleetTestServices", "DeployTracker", "DeployExecutors", "ProjectManager", "ContextAPI", "WebhookDispatcher",
            "LogStreamer", "FlukeTestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ], path: "Tests/DeployTrackerTests"),
        .testTarget(name: "LogStreamerTests", dependencies: [
            "FleetTestServices", "LogStreamer", "ProjectManager", "FlukeTestSupport", "CZlib",
            .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ], path: "Tests/LogStreamerTests",
        // OTLP fixtures and the OpenTelemetry SDK script, read from the repository by the tests.
        exclude: ["Fixtures"]),
        .testTarget(name: "FlukeCLITests", dependencies: [
            "FleetTestServices", "FlukeCLI", "FlukeClient", "ProjectManager", "ContextAPI", "DeployTracker", "DeployExecutors",
            "LogStreamer", "WebhookDispatcher", "Federation", "FlukeModels", "FlukeTestSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ], path: "Tests/FlukeCLITests", exclude: ["Fixtures"]),
        // The dashboard in headless Chromium (selenium) against the whole fleet.
        .testTarget(name: "DashboardTests", dependencies: [
            "FleetTestServices", "ProjectManager", "ContextAPI", "DeployTracker", "LogStreamer", "WebhookDispatcher",
            "Federation", "FlukeTestSupport",
        ], path: "Tests/DashboardTests", exclude: ["browser"]),
        .testTarget(name: "FederationTests", dependencies: [
            "FleetTestServices",
            "Federation", "FlukeTestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ], path: "Tests/FederationTests"),
    ]
)
