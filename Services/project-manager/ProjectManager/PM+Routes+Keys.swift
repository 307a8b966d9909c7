import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

extension PMRoutes {
    /// `GET /.well-known/jwks.json`: the public keys that access tokens are signed with (RFC 7517),
    /// for every other service to verify them (`FLUKE_JWKS_URL`). Public, cacheable for 5 minutes:
    /// a verifier that meets an unknown `kid` fetches again sooner.
    func registerKeys(_ routes: inout RouteRecorder) {
        let body = try! JSONEncoder().encode(config.signingKeys.jwks)
        routes.on(.get, "/.well-known/jwks.json") { _, _ -> Response in
            Response(status: .ok,
                     headers: [.contentType: "application/jwk-set+json", .cacheControl: "public, max-age=300"],
                     body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
    }

    /// `GET /ui/config.json`: what the dashboard's pages call (each service's public URL), read
    /// by them before anything else. A route, not a file, so that the OpenAPI document lists it;
    /// ``DashboardMiddleware`` adds the pages' security headers.
    func registerDashboardConfig(_ routes: inout RouteRecorder) {
        let body = ByteBuffer(data: (try? FleetJSON.encoder.encode(config.dashboard.document)) ?? Data())
        routes.on(.get, DashboardMiddleware.configPath) { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
                     body: .init(byteBuffer: body))
        }
    }
}
