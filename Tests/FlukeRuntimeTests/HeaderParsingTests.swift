import Foundation
@testable import FlukeRuntime
import Testing

/// The hand-written parsers on every request's path.
@Suite struct HeaderParsingTests {
    @Test func bearerTokens() {
        #expect(AuthMiddleware.bearerToken("Bearer abc") == "abc")
        #expect(AuthMiddleware.bearerToken("bearer abc") == "abc")
        #expect(AuthMiddleware.bearerToken("BEARER   fbk_x \t") == "fbk_x")
        #expect(AuthMiddleware.bearerToken("Bearer ") == nil)
        #expect(AuthMiddleware.bearerToken("Bearer    ") == nil)
        #expect(AuthMiddleware.bearerToken("Basic abcdef") == nil)
        #expect(AuthMiddleware.bearerToken("Bearerxabc") == nil)
        #expect(AuthMiddleware.bearerToken("Bearer a b") == "a b")
    }

    @Test func entityTags() {
        #expect(ETag.matches(#""v1""#, #""v1""#))
        #expect(ETag.matches(#""a", "v1""#, #""v1""#))
        #expect(ETag.matches(#" W/"v1" "#, #""v1""#))
        #expect(ETag.matches("*", #""v1""#))
        #expect(!ETag.matches(#""v2""#, #""v1""#))
        #expect(!ETag.matches(#""v1"#, #""v1""#))
        #expect(!ETag.matches("", #""v1""#))
    }

    @Test func requestIDsAreVersion8UUIDs() {
        let ids = (0..<1000).map { _ in RequestIDs.next() }
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(10) {
            let uuid = UUID(uuidString: id)
            #expect(uuid != nil)
            #expect(id == id.lowercased())
            #expect(uuid.map { ($0.uuid.6 >> 4) == 8 && ($0.uuid.8 & 0xC0) == 0x80 } == true)
        }
    }
}
