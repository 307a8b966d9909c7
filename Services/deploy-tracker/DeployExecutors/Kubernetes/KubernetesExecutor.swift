import Foundation

/// Runs apps as apps/v1 Deployments through the Kubernetes API server.
///
/// Each app is one Deployment and one Service in ``Configuration/namespace``, named
/// `fluke-<first 12 hex digits of the tenant>-<app>` (``objectName(tenantID:app:)``), labelled
/// `fluke.dev/tenant`, `fluke.dev/app`, `fluke.dev/track` (`stable`, `canary`), `fluke.dev/slot`
/// (`blue`, `green`) and `fluke.dev/version`. The Service selects tenant, app and slot, never
/// track or version, so a canary Deployment shares it and a rolling update keeps it. A release's
/// environment goes into a Secret `<name>-v<N>-env` that its pods and hook Jobs read through
/// `envFrom` (only `PORT` is in the template); Secrets no Deployment uses any more are deleted.
///
/// - Rolling: the live Deployment is created (409 → updated) or updated with a strategic-merge
///   patch, then watched exactly as `kubectl rollout status` does.
/// - Canary: a second Deployment `<name>-canary` (track `canary`) runs the new template beside the
///   untouched stable one, sized so its share of the pods approximates each step; at 100 % the
///   stable Deployment takes the new template and the canary is deleted. A failed step deletes the
///   canary and leaves stable as it was.
/// - Blue-green: the idle slot's Deployment (`<name>` is blue, `<name>-green` green) gets the new
///   template at full size; once fully available the Service's `fluke.dev/slot` selector moves to
///   it. The old slot keeps its pods for `rollback_window` seconds, then is scaled to zero (by a
///   timer in this process, or by the app's next deploy if the tracker restarted meanwhile).
///
/// `ProgressDeadlineExceeded` (past `deploy_timeout`, which becomes `progressDeadlineSeconds`) is
/// reported as ``DeployFailure/Kind/healthCheck``: Kubernetes only reaches it when new pods never
/// became available, which is what a health-gated rollout calls failing its checks. API errors
/// (`Status` objects) are ``DeployFailure/Kind/executor``.
///
/// The account it runs as needs, in ``Configuration/namespace``: `deployments` (apps) get, list,
/// create, patch, delete; `services` get, create, patch, delete; `secrets` list, create, update,
/// delete; `jobs` (batch) get, create, delete; `pods` list and `pods/log` get; and, for
/// `validate` only, `namespaces` get (a 403 there is reported as fine).
///
/// Call ``shutdown()`` before dropping the executor: it owns an HTTP client.
public struct KubernetesExecutor: DeployExecutor {
    public let kind = ExecutorKind.kubernetes
    let client: KubernetesClient

    /// Labels every object of an app carries.
    enum Label {
        static let tenant = "fluke.dev/tenant"
        static let app = "fluke.dev/app"
        static let track = "fluke.dev/track"
        static let slot = "fluke.dev/slot"
        static let version = "fluke.dev/version"
        static let hook = "fluke.dev/hook"
        /// When an idle blue-green slot may be scaled to zero (RFC 3339).
        static let retireAfter = "fluke.dev/retire-after"
        static let restartedAt = "kubectl.kubernetes.io/restartedAt"
    }

    /// Connects to the API server described by `configuration` (nothing is sent yet).
    public init(configuration: Configuration) throws {
        client = try KubernetesClient(configuration)
    }

    /// Closes the HTTP client's connections.
    public func shutdown() async throws {
        try await client.shutdown()
    }

    var namespace: String { client.configuration.namespace }
    var poll: Duration { client.configuration.pollInterval }

    /// The name of the app's stable Deployment and of its Service: unique per tenant, a DNS
    /// label with room for `-canary` and `-green`. Long app names keep a prefix and a hash of
    /// the whole name, so two of them never meet.
    public static func objectName(tenantID: UUID, app: String) -> String {
        let tenant = String(tenantID.uuidString.lowercased().filter { $0 != "-" }.prefix(12))
        let name = "fluke-\(tenant)-\(app)"
        let limit = 63 - "-green-canary".count
        guard name.count > limit else { return name }
        var hash: UInt32 = 2_166_136_261
        for byte in app.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let suffix = String(hash, radix: 16)
        var kept = String(name.prefix(limit - suffix.count - 1))
        while kept.hasSuffix("-") { kept.removeLast() }
        return kept + "-" + suffix
    }

    /// The labels naming one app of one tenant.
    static func appLabels(tenantID: UUID, app: String) -> [String: String] {
        [Label.tenant: tenantID.uuidString.lowercased(), Label.app: app]
    }

    static func selector(_ labels: [String: String]) -> String {
        labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            .addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-._~"))) ?? ""
    }

    // MARK: Paths

    func deploymentsPath(_ name: String? = nil) -> String {
        "/apis/apps/v1/namespaces/\(namespace)/deployments" + (name.map { "/\($0)" } ?? "")
    }

    func servicesPath(_ name: String? = nil) -> String {
        "/api/v1/namespaces/\(namespace)/services" + (name.map { "/\($0)" } ?? "")
    }

    func jobsPath(_ name: String? = nil) -> String {
        "/apis/batch/v1/namespaces/\(namespace)/jobs" + (name.map { "/\($0)" } ?? "")
    }

    func podsPath(selector labels: [String: String]) -> String {
        "/api/v1/namespaces/\(namespace)/pods?labelSelector=\(Self.selector(labels))"
    }

    // MARK: Image references

    /// The image is the artifact: nothing is pulled from here, the kubelet does.
    public func build(_ release: ReleaseInput, log: DeployLog) async throws -> Artifact {
        guard let image = release.image ?? release.spec.image else {
            throw DeployFailure(.build, "a kubernetes app needs an image (the deploy's image or spec.image)")
        }
        guard Self.isValidImageReference(image) else {
            throw DeployFailure(.build, "\(image) is not a valid image reference")
        }
        await log.info("image \(image)", .buildComplete)
        return Artifact(reference: image)
    }

    /// `[registry[:port]/]path[:tag][@sha256:hex]`, as the distribution reference grammar has it.
    public static func isValidImageReference(_ reference: String) -> Bool { ImageReference(reference) != nil }
}
