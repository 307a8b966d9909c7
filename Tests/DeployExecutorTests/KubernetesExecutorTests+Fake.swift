import FlukeModels
import FlukeTestSupport
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// The fake itself answers as the API server does where the executor relies on it.
extension KubernetesExecutorTests {
    @Test("the fake API server answers with Status objects: 415 for a plain JSON PATCH, 409, 422, 404")
    func fakeSpeaksStatus() async throws {
        try await FakeKubernetesAPI().run { url in
            let collection = url + "/apis/apps/v1/namespaces/fluke/deployments"
            func deployment(_ selector: String) -> Data {
                FakeKube.encode(FakeKube.value([
                    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"],
                    "spec": ["replicas": 1, "selector": ["matchLabels": ["app": selector]],
                             "template": ["metadata": ["labels": ["app": "web"]],
                                          "spec": ["containers": [["name": "app", "image": "nginx:1.27"]]]]]]))
            }
            func status(_ json: [String: Any]?) -> (String?, Int?) {
                (json?["reason"] as? String, json?["code"] as? Int)
            }
            /// `HTTP.send` always says `application/json`; a patch needs its own content type.
            func patch(_ path: String, _ body: Data) async throws -> (status: Int, json: [String: Any]?) {
                var request = URLRequest(url: URL(string: collection + path)!)
                request.httpMethod = "PATCH"
                request.httpBody = body
                request.setValue("application/strategic-merge-patch+json", forHTTPHeaderField: "Content-Type")
                let (data, response) = try await URLSession.shared.data(for: request)
                return ((response as! HTTPURLResponse).statusCode,
                        (try? JSONSerialization.jsonObject(with: data)) as? [String: Any])
            }

            let invalid = try await HTTP.send("POST", collection, json: deployment("other"))
            #expect(invalid.status == 422 && status(invalid.json) == ("Invalid", 422))
            #expect(try await HTTP.send("POST", collection, json: deployment("web")).status == 201)
            let duplicate = try await HTTP.send("POST", collection, json: deployment("web"))
            #expect(duplicate.status == 409 && status(duplicate.json) == ("AlreadyExists", 409))

            let body = Data(#"{"spec":{"replicas":2}}"#.utf8)
            let plain = try await HTTP.send("PATCH", collection + "/web", json: body)
            #expect(plain.status == 415 && status(plain.json) == ("UnsupportedMediaType", 415))
            let missing = try await patch("/nope", body)
            #expect(missing.status == 404 && status(missing.json) == ("NotFound", 404))
            let merged = try await patch("/web", body)
            #expect(merged.status == 200)
            let metadata = merged.json?["metadata"] as? [String: Any]
            #expect(metadata?["generation"] as? Int == 2 && metadata?["resourceVersion"] as? String != nil)
        }
    }

    @Test("the fake's strategic merge: containers and env merge by name, $patch replace replaces, null deletes")
    func fakeStrategicMerge() {
        let original = FakeKube.value([
            "containers": [["name": "app", "image": "a:1", "env": [["name": "A", "value": "1"], ["name": "B", "value": "2"]]],
                           ["name": "sidecar", "image": "s:1"]],
            "labels": ["x": "1", "y": "2"]])
        let patch = FakeKube.value([
            "containers": [["name": "app", "image": "a:2", "env": [["name": "C", "value": "3"], ["$patch": "replace"]]]],
            "labels": ["x": JSONValue.null, "z": "3"]])
        let merged = FakeKube.strategicMerge(original, patch)
        #expect(merged == FakeKube.value([
            "containers": [["name": "app", "image": "a:2", "env": [["name": "C", "value": "3"]]],
                           ["name": "sidecar", "image": "s:1"]],
            "labels": ["y": "2", "z": "3"]]))
    }
}
